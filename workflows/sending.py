"""``SendVerbs``: the ``send`` verb of a journey and the cost rules behind it.

Since patch ``send-once``, a send is one regular activity (``send_message``): consent,
suppression, caps, quiet hours, render and the provider call, with retries. A send held back by
a frequency cap or quiet hours comes back as a moment to sleep until (a durable timer) and is
tried again then. The ``JourneyStep`` search attribute is set only where it changes what an
operator can find: a send held back, failed, or of unknown outcome; the current step is always
in the Web UI's current details and the ``state`` query. Journeys that started before the patch
keep the old shape: a local activity (``prepare_message``) then ``deliver_message``, and a
``JourneyStep`` upsert per send.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        DELIVER_MESSAGE,
        PREPARE_MESSAGE,
        SEND_MESSAGE,
        DeliverMessage,
        Delivery,
        PreparedMessage,
        PrepareMessage,
        SendMessage,
    )
    from workflows.exits import JourneyExit
    from workflows.experiments import Arm, Experiment
    from workflows.merging import Merge, queue_part
    from workflows.models import Event, ExitReason, SentMessage
    from workflows.search import JOURNEY_STEP
    from workflows.send_time import BEST_TIME
    from workflows.spec import JourneySpec

# Lookups and rendering are cheap and idempotent: a local activity (one marker event) each send.
PREPARE_TIMEOUT = timedelta(seconds=30)
# The provider call is the only regular activity; it retries with backoff for as long as a day.
DELIVER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["TemplateError", "InvalidRecipient"],
)
DELIVER_TIMEOUT = timedelta(seconds=60)
DELIVER_SCHEDULE_TIMEOUT = timedelta(days=1)
# The provider call heartbeats: an exit cancels it, and a dead worker's attempt is retried
# after this long rather than after the whole start-to-close timeout.
DELIVER_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# One activity per send (gates, render, provider) instead of a local activity and an activity,
# and no search-attribute upsert per send.
SEND_ONCE = "send-once"
# A send's outcomes an operator must be able to find (the others are in the state query).
NOTABLE = ("failed", "unknown", "deferred")


class SendVerbs:
    """Mixed into ``Journey``: sending messages, exactly once per step.

    The attributes and helpers below are ``Journey``'s; they are declared here so the mixin
    type-checks on its own instead of typing ``self`` as the subclass.
    """

    spec: ClassVar[JourneySpec]
    contact_id: str
    _enrollment: str
    _inbox: list[Event]
    _mark: int
    _sent: list[SentMessage]
    _steps_taken: int
    _step: str
    _exit_reason: ExitReason | None

    if TYPE_CHECKING:

        def _set_step(self, step: str) -> None: ...

        def _wait_details(self, what: str | None, until: datetime | None) -> None: ...

        def _record(self, step: str, detail: str) -> None: ...

        async def arm_of(self, experiment: Experiment) -> Arm: ...

        async def _arm_delay(self, arm: Arm, experiment: Experiment) -> None: ...

        async def _wait_for_best_time(self, template: str, topic: str) -> None: ...

    async def send(
        self,
        template: str,
        *,
        data: dict[str, Any] | None = None,
        topic: str | None = None,
        on_cap: str = "defer",
        merge: Merge | None = None,
        experiment: Experiment | None = None,
        at: str | None = None,
        channel: str = "email",
    ) -> SentMessage:
        """Send ``template`` to the contact: consent, suppression, timing, render, provider.

        Args:
            template: the message template, e.g. ``welcome/hello``.
            data: what the template sees as ``data`` (e.g. the order's products; a
                ``recommendations`` list is also exposed as ``recommendations``).
            topic: consent topic; the journey's by default. ``transactional`` bypasses
                marketing consent, frequency caps and quiet hours (never suppression).
            on_cap: ``defer`` waits for the next slot a frequency cap allows (a durable
                timer); ``skip`` drops this message (status ``skipped``).
            merge: merge this message with others of the contact meeting in a window
                (``workflows/merging.py``); it is then sent by the digest journey, and this
                returns status ``merged``.
            experiment: an experiment on this step: the contact's arm may change the subject,
                the template or the delay, or skip the step (``workflows/experiments.py``).
            at: ``"best_time"`` waits for the contact's best hour in the next 24 h
                (``workflows/send_time.py``).
            channel: ``email``, ``sms`` or ``push``: the same gates, ledger and exactly-once
                on each, with the template's ``.sms.j2`` / ``.push.j2`` variant.

        Returns the message handle; ``status`` is ``refused`` when consent or suppression
        said no, in which case nothing was sent and, for a withdrawn topic, the journey ends
        as ``unsubscribed``. A send outside quiet hours or over a cap waits on a durable
        timer and is tried again then: deferred, never dropped.
        """
        arm = await self.arm_of(experiment) if experiment is not None else None
        if arm is not None and experiment is not None:
            await self._arm_delay(arm, experiment)
        if (arm.at if arm and arm.at else at) == BEST_TIME:
            await self._wait_for_best_time(template, topic or self.spec.topic)
        self._steps_taken += 1
        step = f"{self._steps_taken:02d}-{template}"
        if channel != "email":
            step += f".{channel}"
        if arm is not None and arm.skip:
            return self._settle(template, step, "", "skipped", "experiment", detail="arm skips it")
        # Events that arrive from here on count for the next wait_for, even before it starts.
        self._mark = len(self._inbox)
        key = f"{workflow.info().workflow_id}/{self._enrollment}/{step}"
        cap_mode: Literal["defer", "skip"] = "skip" if on_cap == "skip" else "defer"
        request = SendMessage(
            key=key,
            contact_id=self.contact_id,
            journey=self.spec.name,
            step=step,
            template=arm.template or template if arm else template,
            topic=topic or self.spec.topic,
            data=data or {},
            on_cap=cap_mode,
            experiment=experiment.name if experiment and arm else None,
            arm=arm.name if arm else None,
            subject=arm.subject if arm else None,
            channel=channel,
        )
        if merge is not None:
            await queue_part(request, merge)
            detail = f"merged into the {merge.key} digest"
            return self._settle(template, step, "", "merged", merge.key, detail=detail)
        if workflow.patched(SEND_ONCE):
            return await self._send_once(request)
        return await self._send_in_two(request)

    async def _hold(self, step: str, not_before: datetime | None, reason: str | None) -> None:
        # One timer per deferral: two history events, no activity.
        moment = not_before or workflow.now() + timedelta(minutes=5)
        self._record(step, f"deferred until {moment.isoformat(timespec='seconds')}: {reason}")
        self._wait_details(f"send window ({reason})", moment)
        delay = max(moment - workflow.now(), timedelta(seconds=1))
        await workflow.sleep(delay, summary=f"deferred: {reason}")
        self._wait_details(None, None)

    async def _send_once(self, request: SendMessage) -> SentMessage:
        """The send as one activity; a deferral is a sleep between two tries of it."""
        step, template = request.step, request.template
        self._step = step
        self._wait_details(None, None)
        while True:
            try:
                delivery = await workflow.execute_activity(
                    SEND_MESSAGE,
                    request.model_copy(update={"at": workflow.now()}),
                    result_type=Delivery,
                    start_to_close_timeout=DELIVER_TIMEOUT,
                    schedule_to_close_timeout=DELIVER_SCHEDULE_TIMEOUT,
                    heartbeat_timeout=DELIVER_HEARTBEAT_TIMEOUT,
                    retry_policy=DELIVER_RETRY,
                    summary=f"send {template}",
                )
            except ActivityError as err:
                failed = self._provider_refused(err, template, step, None)
                self._flag_step(step)
                return failed
            if delivery.status in NOTABLE:
                self._flag_step(step)
            if delivery.status == "deferred":
                await self._hold(step, delivery.not_before, delivery.reason)
                continue
            detail = (
                f"not sent: {delivery.reason}"
                if delivery.status in ("refused", "skipped")
                else f"{delivery.status} {template} as {delivery.message_id}"
            )
            return self._settle(
                template, step, delivery.message_id, delivery.status, delivery.reason, detail=detail
            )

    def _flag_step(self, step: str) -> None:
        # One upsert per step at most: a send deferred three times is found once.
        if workflow.info().typed_search_attributes.get(JOURNEY_STEP) != step:
            self._set_step(step)

    def _provider_refused(
        self, err: ActivityError, template: str, step: str, message_id: str | None
    ) -> SentMessage:
        """A provider's final refusal as a failed send; any other activity error propagates."""
        # An exit (goal, withdrawal) cancelled the provider call: the SDK reports that as an
        # ActivityError; the exit watcher expects a plain cancellation.
        if self._exit_reason is not None and is_cancelled_exception(err):
            raise asyncio.CancelledError from err
        cause = err.cause
        if (
            isinstance(cause, ApplicationError)
            and cause.type == "ProviderError"
            and cause.non_retryable
        ):
            # The provider refused this message for good (e.g. an invalid address): that send
            # failed, visibly in the history; the journey goes on.
            return self._settle(
                template,
                step,
                message_id or "",
                "failed",
                "provider_rejected",
                detail=f"failed {template}: the provider refused it",
            )
        raise err

    async def _send_in_two(self, request: SendMessage) -> SentMessage:
        """The send as journeys started before ``send-once`` issue it (kept for replay)."""
        step, template, key, cap_mode = request.step, request.template, request.key, request.on_cap
        self._set_step(step)
        while True:
            prepared = await workflow.execute_local_activity(
                PREPARE_MESSAGE,
                PrepareMessage(**request.model_dump(exclude={"at"}), at=workflow.now()),
                result_type=PreparedMessage,
                start_to_close_timeout=PREPARE_TIMEOUT,
            )
            if prepared.status == "deferred":
                await self._hold(step, prepared.not_before, prepared.reason)
                continue
            if prepared.status in ("refused", "skipped"):
                return self._settle(
                    template,
                    step,
                    prepared.message_id,
                    prepared.status,
                    prepared.reason,
                    detail=f"not sent: {prepared.reason}",
                )
            try:
                delivery = await workflow.execute_activity(
                    DELIVER_MESSAGE,
                    DeliverMessage(key=key, at=workflow.now(), on_cap=cap_mode),
                    result_type=Delivery,
                    start_to_close_timeout=DELIVER_TIMEOUT,
                    schedule_to_close_timeout=DELIVER_SCHEDULE_TIMEOUT,
                    retry_policy=DELIVER_RETRY,
                )
            except ActivityError as err:
                return self._provider_refused(err, template, step, prepared.message_id)
            if delivery.status == "deferred":
                await self._hold(step, delivery.not_before, delivery.reason)
                continue
            return self._settle(
                template,
                step,
                delivery.message_id,
                delivery.status,
                delivery.reason,
                detail=f"{delivery.status} {template} as {delivery.message_id}",
            )

    def _settle(
        self,
        template: str,
        step: str,
        message_id: str,
        status: str,
        reason: str | None,
        *,
        detail: str,
    ) -> SentMessage:
        """Record how a send ended; a withdrawn topic ends the journey right here."""
        message = SentMessage(
            message_id=message_id, template=template, step=step, status=status, reason=reason
        )
        self._sent.append(message)
        self._record(message.step, detail)
        if message.reason == "unsubscribed":
            raise JourneyExit(ExitReason.unsubscribed)
        return message
