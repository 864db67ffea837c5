"""Rows of the store as pydantic models, the shapes the rest of Sojourn sees."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class ContactRecord(BaseModel):
    """A person, by the app's ``userId``."""

    id: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    timezone: str | None = None
    traits: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    country: str | None = None
    city: str | None = None
    birthday: date | None = None
    signup_at: datetime | None = None
    tags: list[str] = Field(default_factory=list)
    interests: list[str] = Field(default_factory=list)
    # Computed from events (see store/computed.py).
    order_count: int = 0
    total_spent: float = 0.0
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    last_seen_at: datetime | None = None
    last_email_open_at: datetime | None = None
    last_email_click_at: datetime | None = None


class EventRecord(BaseModel):
    """One stored event (track or identify), in arrival order by ``seq``."""

    seq: int | None = None
    message_id: str
    contact_id: str
    type: str = "track"
    name: str
    properties: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime
    received_at: datetime
    routed_at: datetime | None = None
    route_error: str | None = None
    original_timestamp: datetime | None = None


class MessageRecord(BaseModel):
    """A message a journey sent, or tried to, keyed by its idempotency key."""

    key: str
    message_id: str
    contact_id: str
    journey: str
    step: str
    template: str
    topic: str
    to_address: str | None = None
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    status: str
    reason: str | None = None
    provider: str | None = None
    provider_id: str | None = None
    created_at: datetime
    sent_at: datetime | None = None
    # email, sms, push or audience (revision 0013_channels); old rows are email.
    channel: str = "email"
