"""Re-engagement: win back a contact who drifted away, or let them go cleanly (list hygiene)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows import ExitReason, Journey, Reentry, SentMessage, days, journey, minutes

with workflow.unsafe.imports_passed_through():
    from activities.hygiene_models import SUNSET, SUNSET_CONTACT, SunsetContact, SunsetDone
    from workflows.exits import JourneyExit

OPENED, SURVEYED = "Email Opened", "Survey Answered"
# Journeys that began before the re-engagement sequence keep their two emails (replay).
SEQUENCE = "reengagement-sequence"
# The sunset's own Unsubscribed, relayed back before the journey ends, is not an exit.
OWN_SUNSET = "reengagement-own-sunset"
# The answers the survey email offers, one link each (gateway/survey.py records the click).
ANSWERS = ("too_many_emails", "not_relevant", "too_expensive", "bought_elsewhere", "other")


@journey(
    name="reactivation",
    goal=("Email Link Clicked", "Order Completed"),
    reentry=Reentry.after_exit,
    # Also entered by its enrollment schedule: contacts with no open or click for 15 days.
    segment="inactive",
    listens=(OPENED, SURVEYED),
)
class Reactivation(Journey):
    """We miss you → exclusive offer → why-did-you-leave survey → last attempt → sunset.

    Any open (of any email), click or order ends it as won back (exit ``goal``); opening
    the survey email itself does not, so the contact can still answer it. A survey answer
    shapes the last attempt (``data.answer``). A contact who reacted to none of the four
    is moved to ``sunset``: marketing is withdrawn in the consent ledger with source
    ``sunset``, so no marketing reaches them, until a later sign-up or an explicit opt-in
    (a newer grant in the ledger) brings them back.
    """

    async def steps(self) -> None:
        if not workflow.patched(SEQUENCE):
            await self._two_emails()
            return
        await self.send("reactivation/miss_you")
        await self._won_back_within(days(4))
        await self.send("reactivation/offer")
        await self._won_back_within(days(4))
        survey = await self.send("reactivation/survey", data={"answers": list(ANSWERS)})
        answer, reacted = await self._survey_answer(survey)
        await self.send("reactivation/last_chance", data={"answer": answer} if answer else None)
        await self._won_back_within(days(5))
        if not reacted:
            if workflow.patched(OWN_SUNSET):
                self.withdrawing(SUNSET)
            done = await workflow.execute_activity(
                SUNSET_CONTACT,
                SunsetContact(contact_id=self.contact_id, topic=self.spec.topic),
                result_type=SunsetDone,
                start_to_close_timeout=minutes(5),
            )
            self._record(self._step, "sunset" if done.changed else "already out of marketing")

    async def _two_emails(self) -> None:
        """The journey as it was before ``reengagement-sequence`` (kept for replay)."""
        hello = await self.send("reactivation/miss_you")
        if not await self.wait_for(OPENED, within=days(7), about=hello):
            await self.send("reactivation/last_call")

    async def _won_back_within(self, within: timedelta) -> None:
        """Wait for an open of any email (not only the last one's): it ends it as won back."""
        if await self.wait_for(OPENED, within=within) is not None:
            raise JourneyExit(ExitReason.goal)

    async def _survey_answer(self, survey: SentMessage) -> tuple[str | None, bool]:
        """``(answer, reacted)``: the answer clicked in the survey, and whether the contact
        reacted at all (opening the survey counts); an open of another email wins back."""
        deadline = workflow.now() + days(5)
        reacted = False
        while (left := deadline - workflow.now()) > timedelta(0):
            got = await self.wait_for((SURVEYED, OPENED), within=left)
            if got is None:
                break
            if got.name == SURVEYED:
                answer = str(got.properties.get("answer", "other"))
                return (answer if answer in ANSWERS else "other"), True
            if got.properties.get("email_id") != survey.message_id:
                raise JourneyExit(ExitReason.goal)
            reacted = True  # read the survey: keep waiting for the answer
        return None, reacted
