"""Payloads of the merge activity (see ``workflows/merging.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

DIGEST_PART = "Digest Part"
QUEUE_PART = "queue_digest_part"


class DigestPart(BaseModel):
    """One part handed to the digest journey (the activity's input)."""

    contact_id: str
    part_id: str
    key: str
    template: str
    window_seconds: float
    part_template: str
    journey: str
    topic: str
    data: dict[str, Any] = Field(default_factory=dict)
    at: datetime | None = None


class PartQueued(BaseModel):
    """Whether the part started a digest (False: it joined a running one)."""

    started: bool
