"""Payloads of the ``audience`` step (kept free of heavy imports for the workflow sandbox)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

SYNC_AUDIENCE = "sync_audience"


class SyncAudience(BaseModel):
    """Add the contact to (or remove them from) a named ad audience, once per step."""

    key: str
    contact_id: str
    journey: str
    step: str
    audience: str
    action: Literal["add", "remove"] = "add"
    topic: str = "marketing"


class AudienceSynced(BaseModel):
    """``sent`` (the webhook took it), ``refused`` (no consent, nothing to match on)."""

    message_id: str
    status: str
    reason: str | None = None
