"""The ``Journey`` base class: the verbs a journey is written with, and what every journey gets.

A journey subclass implements :meth:`Journey.steps` with ``send``, ``wait_for``, ``sleep`` and
``start_journey``. The base class runs those steps beside an exit watcher: the goal or a consent
withdrawal cancels whatever the steps are awaiting (timer, wait or send) and ends the journey.

Every journey stays bounded at any age: it continues as new on its own at a wait or a sleep
once its history passes :attr:`Journey.history_bound` (see ``workflows/continuation.py``), the
inbox keeps only unread events, and the story and the sent list keep their latest entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.models import START_JOURNEY, JourneyStarted
    from workflows.audiences import AudienceVerbs
    from workflows.continuation import AUTO_CONTINUE, HistoryBound, Journal
    from workflows.exits import JourneyExit, exit_for
    from workflows.experiments import ExperimentVerbs
    from workflows.models import (
        Event,
        ExitReason,
        JournalEntry,
        JourneyInput,
        JourneyResult,
        JourneyState,
        SentMessage,
        StepRecord,
    )
    from workflows.segments import SegmentVerbs
    from workflows.send_time import SendTimeVerbs
    from workflows.sending import SendVerbs
    from workflows.spec import JourneySpec, UndeclaredEvent
    from workflows.visibility import HISTORY_LIMIT, StepVisibility
SEEN_LIMIT = 1000
# What a stay carries from run to run, at most: the latest messages, the latest unread events.
SENT_LIMIT = 50
INBOX_LIMIT = 500


class Journey(
    SendVerbs, AudienceVerbs, ExperimentVerbs, SendTimeVerbs, SegmentVerbs, StepVisibility
):
    """Base class of every journey; subclass it, decorate with ``@journey`` and write ``steps``."""

    spec: ClassVar[JourneySpec]
    # When a run's history is long enough to continue as new (a journey may lower it).
    history_bound: ClassVar[HistoryBound] = HistoryBound()

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
        # Sources of withdrawals this journey made itself (its own sunset): their echo is
        # not an exit.
        self._own_withdrawals: set[str] = set()
        self._trigger: Event | None = None
        self._journal = Journal()
        self._continued = 0
        self._arms: dict[str, str] = {}
        self._start_size = 0
        # None until the history first passes its bound; then whether this run may continue
        # as new by itself (False only when replaying a run that predates the patch).
        self._auto_continue: bool | None = None

    # ---- what subclasses write --------------------------------------------------------------

    async def steps(self) -> None:
        """The journey itself. Returning ends it with reason ``completed``."""
        raise NotImplementedError

    async def on_exit(self, reason: ExitReason) -> None:
        """Hook run once after the steps ended, whatever the reason (e.g. hand over on goal)."""

    # ---- the verbs --------------------------------------------------------------------------

    def withdrawing(self, source: str) -> None:
        """Say the journey itself is about to withdraw consent with ``source`` (e.g. its
        sunset step): the ``Unsubscribed`` that comes back from it does not end the journey.

        Without this, a relay quicker than the journey's next workflow task turned the last
        step of a journey that sunsets its contact into an ``unsubscribed`` exit.
        """
        self._own_withdrawals.add(source)

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
            within: how long to wait (journey time: see ``workflows/clock.py``).
            about: only events about this message (their ``email_id`` property is its id).
            where: an extra predicate on the event.

        Events that arrived since the previous send, before this wait began, count too, so a
        fast open is never missed. Each event satisfies at most one wait.
        """
        names = (event,) if isinstance(event, str) else tuple(event)
        if missing := self.spec.undeclared(names):
            # The router would never deliver it: fail the task loudly instead of timing out.
            raise UndeclaredEvent(self.spec.name, missing)
        entry = self._journal.replay("wait_for", " or ".join(names))
        if entry is not None and entry.done:
            return entry.event
        deadline = self._deadline(within, entry.until if entry is not None else None)
        found = await self._wait(names, deadline, within, about, where)
        self._journal.record(JournalEntry(verb="wait_for", label=" or ".join(names), event=found))
        return found

    async def _wait(
        self,
        names: tuple[str, ...],
        deadline: datetime,
        within: timedelta,
        about: SentMessage | None,
        where: Callable[[Event], bool] | None,
    ) -> Event | None:
        self._compact_inbox()

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
            self._wait_details(label, deadline)
            pending = JournalEntry(verb="wait_for", label=" or ".join(names), done=False)
            pending.until = deadline
            while found is None:
                self._continue_if_due(pending)
                remaining = deadline - workflow.now()
                try:
                    if remaining <= timedelta(0):
                        raise TimeoutError
                    await workflow.wait_condition(
                        lambda: find() is not None or self._continue_due(),
                        timeout=remaining,
                        timeout_summary=f"wait {label}",
                    )
                except TimeoutError:
                    self._wait_details(None, None)
                    self._record(self._step, f"no {label} within {within}")
                    return None
                found = find()
        self._wait_details(None, None)
        self._consumed.add(found)
        self._record(self._step, f"got {self._inbox[found].name}")
        return self._inbox[found]

    async def sleep(self, duration: timedelta) -> None:
        """A durable timer: the journey sleeps ``duration`` (days are fine; journey time)."""
        await self._sleep(workflow.now() + self._real(duration))

    async def sleep_until(self, moment: datetime) -> None:
        """Sleep until ``moment`` (aware datetime); returns at once if it has passed."""
        await self._sleep(moment)

    async def _sleep(self, until: datetime) -> None:
        entry = self._journal.replay("sleep")
        if entry is not None and entry.done:
            return
        if entry is not None and entry.until is not None:
            until = entry.until
        delay = until - workflow.now()
        if delay > timedelta(0):
            self._wait_details("time to pass", until)
            pending = JournalEntry(verb="sleep", done=False, until=until)
            summary = f"sleep {delay}"
            while delay > timedelta(0):
                self._continue_if_due(pending)
                try:
                    # A timer like workflow.sleep's, that also wakes when the history is due
                    # to start afresh (events keep arriving during a long sleep).
                    await workflow.wait_condition(
                        self._continue_due, timeout=delay, timeout_summary=summary
                    )
                except TimeoutError:
                    break
                delay = until - workflow.now()
            self._wait_details(None, None)
        self._journal.record(JournalEntry(verb="sleep"))

    async def start_journey(self, name: str) -> bool:
        """Hand the contact over to journey ``name`` (a new top-level workflow).

        Returns False when that journey's re-entry policy refused the contact.
        """
        entry = self._journal.replay("start_journey", name)
        if entry is not None:
            self._handed_over_to = name
            return bool(entry.value)
        started = await workflow.execute_activity(
            START_JOURNEY,
            self._handover(name),
            result_type=JourneyStarted,
            start_to_close_timeout=timedelta(seconds=30),
        )
        self._handed_over_to = name
        self._record(
            self._step, f"handed over to {name}" + ("" if started.started else " (refused)")
        )
        self._journal.record(JournalEntry(verb="start_journey", label=name, value=started.started))
        return started.started

    async def send(self, *args: Any, **kwargs: Any) -> SentMessage:
        """See :meth:`workflows.sending.SendVerbs.send`; journaled for continue-as-new."""
        template = str(args[0] if args else kwargs.get("template", ""))
        entry = self._journal.replay("send", template)
        if entry is not None and entry.sent is not None:
            return entry.sent
        message = await super().send(*args, **kwargs)
        del self._sent[:-SENT_LIMIT]
        self._journal.record(JournalEntry(verb="send", label=template, sent=message))
        return message

    async def segments_of(self, *names: str) -> dict[str, bool]:
        """See :meth:`workflows.segments.SegmentVerbs.segments_of`; journaled."""
        entry = self._journal.replay("segments", ",".join(names))
        if entry is not None:
            return dict(entry.value or {})
        found = await super().segments_of(*names)
        self._journal.record(JournalEntry(verb="segments", label=",".join(names), value=found))
        return found

    def checkpoint(self, **state: Any) -> None:
        """Mark a point ``steps`` can restart from: call it once per turn of a long loop.

        Should the journey continue as new later, ``steps`` runs again from the top with
        ``self.resume == state`` and must find its way back here from that state (e.g. skip
        the greeting when ``self.resume`` is set, and resume the loop's counter). Without
        checkpoints, continuing replays every verb since the start, which is right for a
        journey that runs straight through but grows with every turn of a loop.
        """
        self.resume = dict(state)
        self._journal.checkpoint()

    def should_continue_as_new(self) -> bool:
        """True when the history passed :attr:`history_bound` (or Temporal suggests it)."""
        return self.history_bound.passed(self._start_size)

    def continue_as_new(self, resume: dict[str, Any] | None = None) -> None:
        """Restart this journey now with a fresh history, carrying the inbox and the story.

        ``resume`` comes back as ``self.resume``, and ``steps`` starts again from the top (no
        journal is carried), so it must pick up where it left off from ``resume`` alone.
        """
        self._continue([], resume or {})

    def _continue(self, journal: list[JournalEntry], resume: dict[str, Any]) -> None:
        workflow.continue_as_new(
            JourneyInput(
                contact_id=self.contact_id,
                enrollment=self._enrollment,
                inbox=self._unread(),
                seen=self._seen_order[-SEEN_LIMIT:],
                history=self._history[-HISTORY_LIMIT:],
                sent=self._sent[-SENT_LIMIT:],
                steps_taken=self._steps_taken,
                resume=resume,
                journal=journal,
                step=self._step,
                trigger=self.trigger,
                continued=self._continued + 1,
                arms=self._arms,
                time_scale=self._time_scale,
            )
        )

    def _continue_due(self) -> bool:
        """Should the wait in progress wake up to continue as new? (a wait condition)"""
        return (
            self._auto_continue is not False
            and self._exit_reason is None
            and self.history_bound.passed(self._start_size)
        )

    def _continue_if_due(self, pending: JournalEntry) -> None:
        """At a safe point: continue as new, carrying the journal and ``pending``, if due."""
        if not self._continue_due():
            return
        if self._auto_continue is None:
            # Decided once per run, and only for a run that got this long: short runs record
            # no marker, and a run that predates the patch replays as it ran.
            self._auto_continue = workflow.patched(AUTO_CONTINUE)
        if self._auto_continue:
            self._continue(self._journal.carry(pending), self.resume)

    def _unread(self) -> list[Event]:
        """Events since the previous send that no wait took, the latest ``INBOX_LIMIT``."""
        unread = [
            e for i, e in enumerate(self._inbox) if i >= self._mark and i not in self._consumed
        ]
        return unread[-INBOX_LIMIT:]

    def _compact_inbox(self) -> None:
        # Safe at the start of a wait: nothing holds an inbox index across it.
        if self._trigger is None:
            self._trigger = self.trigger
        self._inbox = self._unread()
        self._consumed = set()
        self._mark = 0

    @property
    def trigger(self) -> Event | None:
        """The entry event that started this stay, when it came with the start."""
        if self._trigger is not None:
            return self._trigger
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
        self._exit_reason = exit_for(self.spec, event, self._own_withdrawals)

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
            inbox_size=len(self._unread()),
            continued=self._continued,
            arms=self._arms,
            time_scale=self._time_scale,
        )

    # ---- the engine -------------------------------------------------------------------------

    async def _run(self, input: JourneyInput) -> JourneyResult:
        self.contact_id = input.contact_id
        self.resume = input.resume
        self._enrollment = input.enrollment or workflow.info().run_id
        self._start_size = workflow.info().get_current_history_size()
        self._restore(input)
        if self._steps_taken == 0:
            self._record("entered", f"entered {self.spec.name}")
        steps = asyncio.create_task(self._steps_unless_held_out())
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
        self._journal.load(input.journal)
        self._trigger = input.trigger
        self._continued = input.continued
        self._arms = dict(input.arms)
        self._time_scale = input.time_scale
        if input.step:
            self._step = input.step

    def _remember(self, message_id: str) -> None:
        self._seen.add(message_id)
        self._seen_order.append(message_id)
        if len(self._seen_order) > SEEN_LIMIT * 2:
            # Keep memory bounded; ids this old cannot realistically come back.
            self._seen_order = self._seen_order[-SEEN_LIMIT:]
            self._seen = set(self._seen_order)
