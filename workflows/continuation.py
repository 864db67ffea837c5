"""How a journey continues as new in the middle of its steps, and when it must.

A journey is plain Python in ``steps()``, so a fresh run cannot jump into the middle of it.
Instead the runtime keeps a *journal*: every verb the steps went through (``send``,
``wait_for``, ``sleep``, ``start_journey``, segment lookups) with what it returned. When the
history grows past its bound, the journey continues as new at its next safe point (a wait or
a sleep, never a send in flight) carrying the journal; the new run calls ``steps()`` again and
each journaled verb returns its recorded result at once, issuing no command, until the steps
reach the wait or sleep they were in, which goes on until its original deadline.

Journeys that loop (a loyalty programme counting orders for years) call
``self.checkpoint(**state)`` once per turn: it empties the journal, and a new run starts
``steps()`` again with ``self.resume == state``, so the code must get back to the loop from
that state on its own (skip what came before when ``self.resume`` is set). The journal then
holds one turn at most, and the history stays bounded however long the journey lives.

Replay needs ``steps()`` to take its decisions from what the verbs return (and ``self.resume``),
not from the clock: a verb that does not match its journal entry fails the workflow task,
naming both, rather than sending the wrong message.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.models import JournalEntry

# The patch that lets a journey continue as new on its own; old runs replay without it.
AUTO_CONTINUE = "auto-continue-as-new"
# Past this many entries the journal makes every new run's first event heavy: say so.
JOURNAL_WARN = 200


@dataclass(frozen=True)
class HistoryBound:
    """When a run's history is long enough to start afresh.

    Attributes:
        events: history events in the current run.
        size: bytes the run's history grew by since it started (its input not counted, so a
            large carried state cannot make every new run continue at once).
    """

    events: int = 1000
    size: int = 1_000_000

    def passed(self, start_size: int) -> bool:
        """True when Temporal suggests continuing as new or the run passed either bound."""
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self.events
            or info.get_current_history_size() - start_size >= self.size
        )


class JournalMismatch(RuntimeError):
    """The steps no longer match the journal: the journey's code changed under a running stay.

    Not a Temporal failure type, so it fails the workflow task (retried, visible in the Web UI)
    and the stay waits for a fixed deploy instead of ending.
    """


class Journal:
    """The verbs a journey's steps went through since the last checkpoint."""

    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []
        self.cursor = 0

    def load(self, entries: list[JournalEntry]) -> None:
        """Start a run that replays ``entries`` before going live."""
        self.entries = list(entries)
        self.cursor = 0

    def replay(self, verb: str, label: str = "") -> JournalEntry | None:
        """The recorded outcome of this verb call, or None once the steps are live again.

        A pending entry (the wait or sleep the last run was in) is handed back once and
        dropped: the live verb records its real outcome when it ends.
        """
        if self.cursor >= len(self.entries):
            return None
        entry = self.entries[self.cursor]
        if entry.verb != verb or (entry.label and label and entry.label != label):
            raise JournalMismatch(
                f"step {self.cursor + 1} of this stay was {entry.verb} {entry.label!r} before it "
                f"continued as new, but the journey now calls {verb} {label!r}: the code changed "
                "under a running journey; guard the change with workflow.patched()"
            )
        if entry.done:
            self.cursor += 1
        else:
            del self.entries[self.cursor]
        return entry

    def record(self, entry: JournalEntry) -> None:
        """Remember a live verb's outcome."""
        self.entries.append(entry)
        self.cursor = len(self.entries)
        if len(self.entries) == JOURNAL_WARN:
            workflow.logger.warning(
                "journey journal is long: call self.checkpoint() once per loop turn",
                extra={"entries": len(self.entries)},
            )

    def checkpoint(self) -> None:
        """Forget what came before this point (a new run starts ``steps()`` from the top)."""
        del self.entries[: self.cursor]
        self.cursor = 0

    def carry(self, pending: JournalEntry | None) -> list[JournalEntry]:
        """What a new run must replay: every entry, then the verb in progress."""
        return [*self.entries, *([pending] if pending else [])]
