"""Attribution: which message earned a conversion, and what each arm of an experiment scored.

Pure functions over the store's facts (:mod:`store.outcomes`), so the report, the experiment
evaluation and the tests compute the same figures the same way.

Decisions:
- A conversion is an event with a conversion name (the journey's goal, ``Order Completed``,
  unless told otherwise) that happens within an attribution window after an engagement with
  one of the journey's messages: 5 days after a click, 1 day after an open (Klaviyo's and
  Braze's defaults). It is attributed to the *last* message of that journey with such an
  engagement, so a reminder that closed the sale gets the credit; its ``revenue`` is summed.
- An experiment is scored per assigned contact (intent to treat), not per message, so an arm
  that skips the step counts its contacts too: ``open`` and ``click`` are whether the arm's
  message was opened (a click implies an open) or clicked; ``conversion`` and ``revenue`` are
  the goal events within the conversion window after the assignment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from activities.metrics import TRACKING
from activities.sequential import Tally
from store.experiments import Assignment
from store.outcomes import EventFact, MessageFact

OPENED, CLICKED = "Email Opened", "Email Link Clicked"
GOAL = "Order Completed"


@dataclass(frozen=True)
class Windows:
    """How long after an engagement a conversion still counts."""

    click: timedelta = timedelta(days=5)
    open: timedelta = timedelta(days=1)
    # For experiments and holdouts: from assignment (or entry) to the goal.
    conversion: timedelta = timedelta(days=5)
    # For a journey's holdout: from entry to the goal, the length of a typical stay.
    holdout: timedelta = timedelta(days=30)


DEFAULT_WINDOWS = Windows()


@dataclass(frozen=True)
class Conversion:
    """A conversion credited to one message."""

    contact_id: str
    journey: str
    step: str
    message_id: str
    at: datetime
    revenue: float


@dataclass
class Touch:
    message: MessageFact
    at: datetime
    kind: str  # "click" or "open"


def engagements(
    messages: Mapping[str, MessageFact], tracking: Iterable[EventFact]
) -> dict[str, set[str]]:
    """Per message id, the tracking columns it has (``opened`` includes clicked messages)."""
    found: dict[str, set[str]] = defaultdict(set)
    for event in tracking:
        column = TRACKING.get(event.name)
        if column and event.email_id is not None and event.email_id in messages:
            found[event.email_id].add(column)
            if column == "clicked":
                found[event.email_id].add("opened")
    return found


def attribute(
    messages: Sequence[MessageFact],
    tracking: Iterable[EventFact],
    conversions: Iterable[EventFact],
    windows: Windows = DEFAULT_WINDOWS,
) -> list[Conversion]:
    """Credit each conversion to the last message of each journey engaged with in its window."""
    by_id = {m.message_id: m for m in messages}
    touches: dict[str, list[Touch]] = defaultdict(list)
    for event in tracking:
        if event.name not in (OPENED, CLICKED) or event.email_id not in by_id:
            continue
        assert event.email_id is not None
        message = by_id[event.email_id]
        kind = "click" if event.name == CLICKED else "open"
        touches[message.contact_id].append(Touch(message, event.at, kind))
    credited: list[Conversion] = []
    for event in conversions:
        best: dict[str, Touch] = {}
        for touch in touches.get(event.contact_id, ()):
            window = windows.click if touch.kind == "click" else windows.open
            if not touch.at <= event.at <= touch.at + window:
                continue
            journey = touch.message.journey
            current = best.get(journey)
            if current is None or (touch.message.at, touch.at) > (current.message.at, current.at):
                best[journey] = touch
        for journey, touch in best.items():
            credited.append(
                Conversion(
                    contact_id=event.contact_id,
                    journey=journey,
                    step=touch.message.step,
                    message_id=touch.message.message_id,
                    at=event.at,
                    revenue=event.revenue or 0.0,
                )
            )
    return credited


@dataclass
class ArmScore:
    """Per-contact outcomes of one arm, summed."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        self.total_sq += value * value

    @property
    def tally(self) -> Tally:
        return Tally(n=self.n, total=self.total, total_sq=self.total_sq)


def score(
    assignments: Iterable[Assignment],
    metric: str,
    *,
    opened: Mapping[str, set[str]],
    goals: Iterable[EventFact],
    windows: Windows = DEFAULT_WINDOWS,
) -> dict[str, ArmScore]:
    """Each arm's per-contact outcomes for ``metric`` (``open``, ``click``, ``conversion``,
    ``revenue``); ``opened`` is :func:`engagements`' answer, ``goals`` the goal events."""
    by_contact: dict[str, list[EventFact]] = defaultdict(list)
    for goal in goals:
        by_contact[goal.contact_id].append(goal)
    arms: dict[str, ArmScore] = defaultdict(ArmScore)
    for a in assignments:
        if metric in ("open", "click"):
            column = "opened" if metric == "open" else "clicked"
            hit = a.message_id is not None and column in opened.get(a.message_id, set())
            arms[a.arm].add(1.0 if hit else 0.0)
            continue
        end = a.assigned_at + windows.conversion
        inside = [g for g in by_contact.get(a.contact_id, ()) if a.assigned_at <= g.at <= end]
        if metric == "revenue":
            arms[a.arm].add(sum(g.revenue or 0.0 for g in inside))
        else:
            arms[a.arm].add(1.0 if inside else 0.0)
    return dict(arms)
