"""Names and payloads of the send-time activity (light imports: workflows pass it through)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

BEST_SEND_TIME = "best_send_time"


class BestSendTime(BaseModel):
    """When should this contact's message leave? (a local activity)"""

    contact_id: str
    topic: str = "marketing"
    at: datetime | None = None


class SendMoment(BaseModel):
    """The moment to send, and the local hour it is."""

    at: datetime
    hour: int
    personal_events: float = 0.0
