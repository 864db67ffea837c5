"""Payloads of the list-hygiene activity (moving an unresponsive contact to ``sunset``)."""

from __future__ import annotations

from pydantic import BaseModel

from store.sunset import SUNSET

__all__ = ["SUNSET", "SUNSET_CONTACT", "SunsetContact", "SunsetDone"]

SUNSET_CONTACT = "sunset_contact"


class SunsetContact(BaseModel):
    """Withdraw ``topic`` for a contact who reacted to nothing (source ``sunset``)."""

    contact_id: str
    topic: str = "marketing"


class SunsetDone(BaseModel):
    """False when the contact was already out of ``topic``."""

    changed: bool
