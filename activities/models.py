"""Names and payloads of the activities journeys call.

Kept free of heavy imports (no jinja2, SQLAlchemy or httpx) so workflow code can pass it through
the sandbox. One pydantic model in, one out; new fields get defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

PREPARE_MESSAGE = "prepare_message"
DELIVER_MESSAGE = "deliver_message"
# One regular activity for the whole send (gates, render, provider), since patch "send-once".
SEND_MESSAGE = "send_message"
START_JOURNEY = "start_journey"


class PrepareMessage(BaseModel):
    """Consent check + render + ledger entry for one send (a local activity)."""

    key: str
    contact_id: str
    journey: str
    step: str
    template: str
    topic: str
    data: dict[str, Any] = Field(default_factory=dict)
    # The journey's clock (workflow.now()): quiet hours and caps are judged at the later of
    # this and the wall clock, so time-skipping tests and real runs agree.
    at: datetime | None = None
    # What a frequency cap does to this step: wait for the next slot, or skip the message.
    on_cap: Literal["defer", "skip"] = "defer"
    # The experiment on this step, the contact's arm, and the arm's subject line (Jinja).
    experiment: str | None = None
    arm: str | None = None
    subject: str | None = None
    # email, sms or push (activities/channels); payloads recorded before channels are email.
    channel: str = "email"


class SendMessage(PrepareMessage):
    """The whole send in one activity: gates, render, ledger and provider call."""


class PreparedMessage(BaseModel):
    """Outcome of preparing: ready to deliver, refused with a reason, or deferred."""

    key: str
    message_id: str
    status: str
    reason: str | None = None
    not_before: datetime | None = None


class DeliverMessage(BaseModel):
    """Hand a prepared message to the provider (a regular activity with retries)."""

    key: str
    at: datetime | None = None
    on_cap: Literal["defer", "skip"] = "defer"


class Delivery(BaseModel):
    """What the provider did with it.

    ``status`` is ``sent``, ``unknown`` (interrupted after the hand-over and the provider
    cannot say: never counted as sent), ``failed``, ``refused``, ``skipped`` or ``deferred``
    (try again at ``not_before``).
    """

    message_id: str
    status: str
    reason: str | None = None
    provider_id: str | None = None
    not_before: datetime | None = None


class StartJourney(BaseModel):
    """Hand the contact over to another journey (a new top-level workflow)."""

    journey: str
    contact_id: str
    source: str
    # The pace of the journey handing over, which the new one keeps (workflows/clock.py).
    time_scale: float = 1.0


class JourneyStarted(BaseModel):
    """Whether the hand-over started a journey (False when re-entry refused it)."""

    workflow_id: str
    started: bool
