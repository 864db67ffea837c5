"""Names and payloads of the activities journeys call.

Kept free of heavy imports (no jinja2, SQLAlchemy or httpx) so workflow code can pass it through
the sandbox. One pydantic model in, one out; new fields get defaults.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

PREPARE_MESSAGE = "prepare_message"
DELIVER_MESSAGE = "deliver_message"
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


class PreparedMessage(BaseModel):
    """Outcome of preparing: ready to deliver, or refused with a reason."""

    key: str
    message_id: str
    status: str
    reason: str | None = None


class DeliverMessage(BaseModel):
    """Hand a prepared message to the provider (a regular activity with retries)."""

    key: str


class Delivery(BaseModel):
    """What the provider did with it."""

    message_id: str
    status: str
    reason: str | None = None
    provider_id: str | None = None


class StartJourney(BaseModel):
    """Hand the contact over to another journey (a new top-level workflow)."""

    journey: str
    contact_id: str
    source: str


class JourneyStarted(BaseModel):
    """Whether the hand-over started a journey (False when re-entry refused it)."""

    workflow_id: str
    started: bool
