"""Welcome: greet a new sign-up, offer a deal to those who open, remind, or hand over."""

from workflows import ExitReason, Journey, days, journey
from workflows.experiments import Arm, Experiment

ENGAGED = ("Email Opened", "Email Link Clicked")
# Which subject line gets the welcome email opened? Decided by the always-valid test on opens;
# the arm's subject is a file per locale (en/ and fr/welcome/hello_question.subject.j2).
SUBJECT_LINE = Experiment(
    "welcome-subject",
    arms=(
        Arm("greeting"),
        Arm("curiosity", subject='{% include "welcome/hello_question.subject.j2" %}'),
    ),
    metric="open",
)


@journey(
    name="welcome",
    entry="Signed Up",
    goal="Order Completed",
    topic="marketing",
    listens=ENGAGED,
    holdout=0.05,
    experiments=(SUBJECT_LINE,),
)
class Welcome(Journey):
    """Welcome a new sign-up; a purchase at any point hands them to cross-sell.

    1. Welcome email after ``Signed Up``.
    2. If it is opened, a promotional offer 3 days later.
    3. If the offer is not used (no ``Order Completed``) within 5 days, a reminder.
    4. A purchase at any point: hand over to ``cross_sell`` and end (the journey's goal).
    5. No open, click or purchase within 30 days: hand over to ``reactivation`` and end.

    5 % of sign-ups are held out (counted, sent nothing) to measure the journey's lift; the
    welcome email's subject line is an experiment (``SUBJECT_LINE``). Stays that began before
    either existed run on without them (``in_experiment``), so they still replay.
    """

    async def steps(self) -> None:
        hello = await self.send("welcome/hello", experiment=self.in_experiment(SUBJECT_LINE))
        if not hello.sent:
            return
        if not await self.wait_for(ENGAGED, within=days(30), about=hello):
            await self.start_journey("reactivation")
            return
        await self.sleep(days(3))
        await self.send("welcome/offer")
        # A purchase is the goal: it ends the journey before this wait can time out.
        if not await self.wait_for("Order Completed", within=days(5)):
            await self.send("welcome/offer_reminder")

    async def on_exit(self, reason: ExitReason) -> None:
        if reason is ExitReason.goal:
            await self.start_journey("cross_sell")
