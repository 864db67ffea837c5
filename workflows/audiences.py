"""``AudienceVerbs``: the ``audience`` step, adding or removing the contact from an ad audience.

``await self.audience("retargeting")`` (or ``remove=True``) is one regular activity
(``sync_audience``) with retries and backoff; its idempotency key (workflow id + enrollment +
step) makes it exactly once per step. It returns the same handle as ``send``, so a journey can
remember it was added and remove the contact later (e.g. in ``on_exit`` once they ordered).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.audience_models import SYNC_AUDIENCE, AudienceSynced, SyncAudience
    from workflows.continuation import Journal
    from workflows.models import JournalEntry, SentMessage
    from workflows.spec import JourneySpec

AUDIENCE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["UnknownAudience"],
)
AUDIENCE_TIMEOUT = timedelta(seconds=60)
AUDIENCE_SCHEDULE_TIMEOUT = timedelta(days=1)


class AudienceVerbs:
    """Mixed into ``Journey``; the attributes below are ``Journey``'s."""

    spec: ClassVar[JourneySpec]
    contact_id: str
    _enrollment: str
    _steps_taken: int
    _step: str
    _sent: list[SentMessage]
    _journal: Journal

    if TYPE_CHECKING:

        def _record(self, step: str, detail: str) -> None: ...

        def _wait_details(self, what: str | None, until: datetime | None) -> None: ...

    async def audience(
        self, name: str, *, remove: bool = False, topic: str | None = None
    ) -> SentMessage:
        """Add the contact to ad audience ``name`` (``remove=True``: take them out).

        The webhook receives hashes of the contact's email and phone, never the plain values
        (``activities/audiences.py``). Status ``refused`` when the contact has no consent to
        ``topic`` (the journey's by default) or nothing to match on; ``failed`` when the
        webhook refused the call for good. Neither ends the journey.
        """
        action: Literal["add", "remove"] = "remove" if remove else "add"
        label = f"{action} {name}"
        entry = self._journal.replay("audience", label)
        if entry is not None and entry.sent is not None:
            return entry.sent
        self._steps_taken += 1
        step = f"{self._steps_taken:02d}-audience-{action}-{name}"
        self._step = step
        request = SyncAudience(
            key=f"{workflow.info().workflow_id}/{self._enrollment}/{step}",
            contact_id=self.contact_id,
            journey=self.spec.name,
            step=step,
            audience=name,
            action=action,
            topic=topic or self.spec.topic,
        )
        try:
            synced = await workflow.execute_activity(
                SYNC_AUDIENCE,
                request,
                result_type=AudienceSynced,
                start_to_close_timeout=AUDIENCE_TIMEOUT,
                schedule_to_close_timeout=AUDIENCE_SCHEDULE_TIMEOUT,
                retry_policy=AUDIENCE_RETRY,
                summary=f"audience {label}",
            )
            status, reason, message_id = synced.status, synced.reason, synced.message_id
        except ActivityError as err:
            status, reason, message_id = "failed", str(err.cause or err)[:200], ""
        message = SentMessage(
            message_id=message_id,
            template=f"audience/{name}",
            step=step,
            status=status,
            reason=reason,
        )
        self._sent.append(message)
        detail = f"{label}: {status}" + (f" ({reason})" if reason else "")
        self._record(step, detail)
        self._journal.record(JournalEntry(verb="audience", label=label, sent=message))
        return message
