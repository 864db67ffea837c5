"""Payloads that cross the workflow boundary. One pydantic model in, one out.

New fields always get defaults, so journeys that are already running keep replaying.
Nothing here carries personal data: contacts travel by id, messages by id.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from workflows.personal import strip_personal


class Event(BaseModel):
    """An event as journeys see it (Segment's track call, minus personal traits)."""

    message_id: str
    name: str
    properties: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = None

    def without_personal_data(self) -> Event:
        """This event with the personal-data properties left out (what histories may hold).

        See :mod:`workflows.personal` for the rule: personal keys in any spelling and values
        that hold an email address or a phone number, at any depth.
        """
        kept = strip_personal(self.properties)
        if kept == self.properties:
            return self
        return self.model_copy(update={"properties": kept})


class ExitReason(StrEnum):
    """Why a journey ended."""

    completed = "completed"
    goal = "goal"
    unsubscribed = "unsubscribed"
    handed_over = "handed_over"
    segment_left = "segment_left"
    # In the journey's holdout: entered and counted, sent nothing (workflows/experiments.py).
    held_out = "held_out"


class StepRecord(BaseModel):
    """One line of a journey's story, as the state query shows it."""

    at: datetime
    step: str
    detail: str = ""


class SentMessage(BaseModel):
    """Handle of a message a journey sent (or that consent refused)."""

    message_id: str
    template: str
    step: str
    status: str = "sent"
    reason: str | None = None

    @property
    def sent(self) -> bool:
        """True when the message actually left."""
        return self.status == "sent"


class JournalEntry(BaseModel):
    """One verb the steps went through, replayed as a no-op when a journey continues as new.

    Attributes:
        verb: ``send``, ``wait_for``, ``sleep``, ``start_journey`` or ``segments``.
        label: what the verb was called with (template, event names), checked on replay so a
            changed journey fails loudly instead of picking up at the wrong step.
        done: False for the wait or sleep the journey was in when it continued as new.
        until: when that pending wait or sleep ends.
        sent: what ``send`` returned.
        event: what ``wait_for`` returned (None on timeout).
        value: what ``start_journey`` (bool) or ``segments_of`` (dict) returned.
    """

    verb: str
    label: str = ""
    done: bool = True
    until: datetime | None = None
    sent: SentMessage | None = None
    event: Event | None = None
    value: Any = None


class JourneyInput(BaseModel):
    """Start (or continue-as-new) input of every journey workflow."""

    contact_id: str
    # Identifies one stay in the journey; part of every idempotency key, so a contact who
    # re-enters later gets new emails while a retried or replayed step never sends twice.
    enrollment: str = ""
    # Carried over by continue-as-new; empty on a fresh start.
    inbox: list[Event] = Field(default_factory=list)
    seen: list[str] = Field(default_factory=list)
    history: list[StepRecord] = Field(default_factory=list)
    sent: list[SentMessage] = Field(default_factory=list)
    steps_taken: int = 0
    resume: dict[str, Any] = Field(default_factory=dict)
    # What the steps went through since the last checkpoint (see workflows/continuation.py).
    journal: list[JournalEntry] = Field(default_factory=list)
    step: str = ""
    trigger: Event | None = None
    continued: int = 0
    # Experiment -> arm of this contact (workflows/experiments.py), carried by continue-as-new.
    arms: dict[str, str] = Field(default_factory=dict)
    # Seconds of journey time per real second (SOJOURN_DEV_TIME_SCALE, workflows/clock.py).
    time_scale: float = 1.0


class JourneyResult(BaseModel):
    """What a finished journey returns."""

    contact_id: str
    exit_reason: ExitReason
    sent: list[SentMessage] = Field(default_factory=list)
    handed_over_to: str | None = None


class JourneyState(BaseModel):
    """The state query's answer: where the journey is and how it got there."""

    journey: str
    contact_id: str
    step: str
    waiting_for: str | None = None
    until: datetime | None = None
    exit_reason: ExitReason | None = None
    history: list[StepRecord] = Field(default_factory=list)
    sent: list[SentMessage] = Field(default_factory=list)
    inbox_size: int = 0
    # How many times this stay continued as new (a fresh history each time).
    continued: int = 0
    # The contact's arm in each experiment (and holdout) of this journey.
    arms: dict[str, str] = Field(default_factory=dict)
    # Seconds of journey time per real second (workflows/clock.py); 1 outside development.
    time_scale: float = 1.0
