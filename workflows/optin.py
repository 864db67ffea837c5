"""``consent_confirmation``: the transactional journey that mails double opt-in confirmations.

Asking for a double opt-in topic (the preference centre) records a ``pending`` consent row and
an ``Opt-in Requested`` event; the relay routes the event here like any other, so the email
is sent by Temporal, not by the gateway: retried while the provider is down, exactly once per
request (the send ledger key ``optin/<ledger id>``), and visible in the Web UI and in
``sojourn journeys status``. One stay handles every request that arrives while it runs.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.models import DELIVER_MESSAGE, DeliverMessage, Delivery, PreparedMessage
    from activities.optin_models import OPTIN_REQUESTED, PREPARE_OPTIN, PrepareOptIn
    from workflows.journey import Journey
    from workflows.models import Event, SentMessage
    from workflows.sending import (
        DELIVER_HEARTBEAT_TIMEOUT,
        DELIVER_RETRY,
        DELIVER_SCHEDULE_TIMEOUT,
        DELIVER_TIMEOUT,
    )
    from workflows.spec import Reentry, journey

PREPARE_TIMEOUT = timedelta(seconds=30)


@journey(
    name="consent_confirmation",
    entry=OPTIN_REQUESTED,
    topic="transactional",
    reentry=Reentry.after_exit,
)
class ConsentConfirmation(Journey):
    """Mail the confirmation link of each double opt-in request, then leave."""

    async def steps(self) -> None:
        # within=0 takes a request already in the inbox and sets no timer; a request that
        # lands as the stay ends is seen too (Temporal hands the signal over before the end).
        while (request := await self.wait_for(OPTIN_REQUESTED, within=timedelta(0))) is not None:
            await self.confirm(request)

    async def confirm(self, request: Event) -> SentMessage:
        """Prepare and deliver one confirmation (the consent template, transactional)."""
        topic = str(request.properties.get("topic", ""))
        ledger_id = int(request.properties.get("ledger_id", 0))
        step = f"optin-{topic}"
        self._set_step(step)
        prepared = await workflow.execute_activity(
            PREPARE_OPTIN,
            PrepareOptIn(contact_id=self.contact_id, topic=topic, ledger_id=ledger_id),
            result_type=PreparedMessage,
            start_to_close_timeout=PREPARE_TIMEOUT,
        )
        status, reason, message_id = prepared.status, prepared.reason, prepared.message_id
        if status == "prepared":
            delivery = await workflow.execute_activity(
                DELIVER_MESSAGE,
                # Transactional: no cap or quiet hours apply; "skip" states that plainly.
                DeliverMessage(key=prepared.key, at=workflow.now(), on_cap="skip"),
                result_type=Delivery,
                start_to_close_timeout=DELIVER_TIMEOUT,
                schedule_to_close_timeout=DELIVER_SCHEDULE_TIMEOUT,
                heartbeat_timeout=DELIVER_HEARTBEAT_TIMEOUT,
                retry_policy=DELIVER_RETRY,
            )
            status, reason, message_id = delivery.status, delivery.reason, delivery.message_id
        message = SentMessage(
            message_id=message_id,
            template="consent/confirm",
            step=step,
            status=status,
            reason=reason,
        )
        self._sent.append(message)
        self._record(step, f"{status} confirmation for {topic}" + (f": {reason}" if reason else ""))
        return message
