"""The ``Journey`` base class: the verbs a journey is written with, and what every journey gets.

A journey subclass implements :meth:`Journey.steps` with ``send``, ``wait_for``, ``sleep`` and
``start_journey``. The base class runs those steps beside an exit watcher: the goal or a consent
withdrawal cancels whatever the steps are awaiting (timer, wait or send) and ends the journey.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        START_JOURNEY,
        JourneyStarted,
        StartJourney,
    )
    from activities.segment_models import SEGMENT_LEFT
    from workflows.exits import JourneyExit
    from workflows.models import (
        Event,
        ExitReason,
        JourneyInput,
        JourneyResult,
        JourneyState,
        SentMessage,
        StepRecord,
    )
    from workflows.search import CONTACT_ID, JOURNEY_STEP, contact_of
    from workflows.segments import SegmentVerbs
    from workflows.sending import SendVerbs
    from workflows.spec import JourneySpec

UNSUBSCRIBED = "Unsubscribed"
HISTORY_LIMIT = 100
SEEN_LIMIT = 1000


class Journey(SendVerbs, SegmentVerbs):
    """Base class of every journey; subclass it, decorate with ``@journey`` and write ``steps``."""

    spec: ClassVar[JourneySpec]

    def __init__(self) -> None:
        # Signals may arrive in the same activation as the start, before ``_run``: all state
        # must exist from construction on.
        self.contact_id = ""
        self.resume: dict[str, Any] = {}
        self._enrollment = ""
        self._inbox: list[Event] = []
        self._consumed: set[int] = set()
        self._mark = 0
        self._seen: set[str] = set()
        self._seen_order: list[str] = []
        self._history: list[StepRecord] = []
        self._sent: list[SentMessage] = []
        self._steps_taken = 0
        self._step = "entered"
        self._waiting_for: str | None = None
        self._until: datetime | None = None
        self._exit_reason: ExitReason | None = None
        self._handed_over_to: str | None = None

    # ---- what subclasses write --------------------------------------------------------------

    async def steps(self) -> None:
        """The journey itself. Returning ends it with reason ``completed``."""
        raise NotImplementedError

    async def on_exit(self, reason: ExitReason) -> None:
        """Hook run once after the steps ended, whatever the reason (e.g. hand over on goal)."""

    # ---- the verbs --------------------------------------------------------------------------

    async def wait_for(
        self,
        event: str | Sequence[str],
        *,
        within: timedelta,
        about: SentMessage | None = None,
        where: Callable[[Event], bool] | None = None,
    ) -> Event | None:
        """Wait up to ``within`` for ``event`` (a name or several); None on timeout.

        Args:
            event: the event name(s) that count.
            within: how long to wait.
            about: only events about this message (their ``email_id`` property is its id).
            where: an extra predicate on the event.

        Events that arrived since the previous send, before this wait began, count too, so a
        fast open is never missed. Each event satisfies at most one wait.
        """
        names = (event,) if isinstance(event, str) else tuple(event)

        def find() -> int | None:
            for index in range(self._mark, len(self._inbox)):
                candidate = self._inbox[index]
                if index in self._consumed or candidate.name not in names:
                    continue
                if about is not None and candidate.properties.get("email_id") != about.message_id:
                    continue
                if where is not None and not where(candidate):
                    continue
                return index
            return None

        label = " or ".join(names) + (f" about {about.template}" if about else "")
        found = find()
        if found is None:
            self._wait_details(label, workflow.now() + within)
            try:
                await workflow.wait_condition(
                    lambda: find() is not None, timeout=within, timeout_summary=f"wait {label}"
                )
            except TimeoutError:
                self._wait_details(None, None)
                self._record(self._step, f"no {label} within {within}")
                return None
            found = find()
            assert found is not None
        self._wait_details(None, None)
        self._consumed.add(found)
        self._record(self._step, f"got {self._inbox[found].name}")
        return self._inbox[found]

    async def sleep(self, duration: timedelta) -> None:
        """A durable timer: the journey sleeps ``duration`` (days are fine)."""
        self._wait_details("time to pass", workflow.now() + duration)
        await workflow.sleep(duration, summary=f"sleep {duration}")
        self._wait_details(None, None)

    async def sleep_until(self, moment: datetime) -> None:
        """Sleep until ``moment`` (aware datetime); returns at once if it has passed."""
        delay = moment - workflow.now()
        if delay > timedelta(0):
            await self.sleep(delay)

    async def start_journey(self, name: str) -> bool:
        """Hand the contact over to journey ``name`` (a new top-level workflow).

        Returns False when that journey's re-entry policy refused the contact.
        """
        started = await workflow.execute_activity(
            START_JOURNEY,
            StartJourney(
                journey=name, contact_id=self.contact_id, source=workflow.info().workflow_id
            ),
            result_type=JourneyStarted,
            start_to_close_timeout=timedelta(seconds=30),
        )
        self._handed_over_to = name
        self._record(
            self._step, f"handed over to {name}" + ("" if started.started else " (refused)")
        )
        return started.started

    def should_continue_as_new(self) -> bool:
        """True when the history grew long enough to start afresh (call at a loop boundary)."""
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > 5000

    def continue_as_new(self, resume: dict[str, Any] | None = None) -> None:
        """Restart this journey with a fresh history, carrying the inbox and the story.

        ``resume`` comes back as ``self.resume`` so ``steps`` can pick up where it left off.
        """
        pending = self._inbox[self._mark :]
        workflow.continue_as_new(
            JourneyInput(
                contact_id=self.contact_id,
                enrollment=self._enrollment,
                inbox=[e for i, e in enumerate(pending, self._mark) if i not in self._consumed],
                seen=self._seen_order[-SEEN_LIMIT:],
                history=self._history[-HISTORY_LIMIT:],
                sent=self._sent,
                steps_taken=self._steps_taken,
                resume=resume or {},
            )
        )

    @property
    def trigger(self) -> Event | None:
        """The entry event that started this stay, when it came with the start."""
        return next((e for e in self._inbox if e.name in self.spec.entry), None)

    # ---- signal and query -------------------------------------------------------------------

    @workflow.signal(name="event")
    def on_event(self, event: Event) -> None:
        """Every event for this contact arrives here; duplicates (by messageId) are dropped."""
        if event.message_id in self._seen:
            return
        self._remember(event.message_id)
        self._inbox.append(event)
        if self._exit_reason is not None:
            return
        if event.name in self.spec.goal:
            self._exit_reason = ExitReason.goal
        elif event.name == UNSUBSCRIBED and event.properties.get("topic") in (
            None,
            "*",
            self.spec.topic,
        ):
            self._exit_reason = ExitReason.unsubscribed
        elif (
            event.name == SEGMENT_LEFT
            and self.spec.exit_on_segment_leave
            and event.properties.get("segment") == self.spec.segment
        ):
            self._exit_reason = ExitReason.segment_left

    @workflow.query(name="state")
    def state(self) -> JourneyState:
        """Where the journey is, what it waits for, and its story so far."""
        return JourneyState(
            journey=self.spec.name,
            contact_id=self.contact_id,
            step=self._step,
            waiting_for=self._waiting_for,
            until=self._until,
            exit_reason=self._exit_reason,
            history=self._history,
            sent=self._sent,
            inbox_size=len(self._inbox),
        )

    # ---- the engine -------------------------------------------------------------------------

    async def _run(self, input: JourneyInput) -> JourneyResult:
        self.contact_id = input.contact_id
        self.resume = input.resume
        self._enrollment = input.enrollment or workflow.info().run_id
        self._restore(input)
        if self._steps_taken == 0:
            self._record("entered", f"entered {self.spec.name}")
        steps = asyncio.create_task(self.steps())
        await workflow.wait_condition(lambda: steps.done() or self._exit_reason is not None)
        if not steps.done():
            steps.cancel()
        try:
            await steps
        except asyncio.CancelledError:
            if self._exit_reason is None:
                raise
        except JourneyExit as exit_:
            self._exit_reason = exit_.reason
        if self._exit_reason is None:
            self._exit_reason = (
                ExitReason.handed_over if self._handed_over_to else ExitReason.completed
            )
        self._wait_details(None, None)
        self._record("exit", f"exit: {self._exit_reason.value}")
        await self.on_exit(self._exit_reason)
        return JourneyResult(
            contact_id=self.contact_id,
            exit_reason=self._exit_reason,
            sent=self._sent,
            handed_over_to=self._handed_over_to,
        )

    def _restore(self, input: JourneyInput) -> None:
        # Events signalled before _run (same activation) come after the carried ones.
        early = self._inbox
        self._inbox = []
        self._seen.clear()
        self._seen_order.clear()
        for message_id in input.seen:
            self._remember(message_id)
        self._inbox.extend(input.inbox)
        for event in early:
            if event.message_id not in self._seen:
                self._remember(event.message_id)
                self._inbox.append(event)
        self._history = list(input.history) + self._history
        self._sent = list(input.sent)
        self._steps_taken = input.steps_taken

    def _remember(self, message_id: str) -> None:
        self._seen.add(message_id)
        self._seen_order.append(message_id)
        if len(self._seen_order) > SEEN_LIMIT * 2:
            # Keep memory bounded; ids this old cannot realistically come back.
            self._seen_order = self._seen_order[-SEEN_LIMIT:]
            self._seen = set(self._seen_order)

    def _set_step(self, step: str) -> None:
        self._step = step
        updates = [JOURNEY_STEP.value_set(step)]
        if CONTACT_ID not in workflow.info().typed_search_attributes:
            updates.append(CONTACT_ID.value_set(contact_of(workflow.info().workflow_id)))
        workflow.upsert_search_attributes(updates)

    def _wait_details(self, what: str | None, until: datetime | None) -> None:
        self._waiting_for, self._until = what, until
        if what is None:
            workflow.set_current_details(f"step {self._step}")
        else:
            assert until is not None
            workflow.set_current_details(
                f"step {self._step}: waiting for {what} until {until.isoformat(timespec='minutes')}"
            )

    def _record(self, step: str, detail: str) -> None:
        self._history.append(StepRecord(at=workflow.now(), step=step, detail=detail))
        if len(self._history) > HISTORY_LIMIT:
            del self._history[0]
        workflow.logger.info(
            "journey step",
            # The contact's key, never its user id: logs are kept and shipped in clear.
            extra={
                "journey": self.spec.name,
                "contact": contact_of(workflow.info().workflow_id),
                "detail": detail,
            },
        )
