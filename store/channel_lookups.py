"""Lookups the channels' inbound webhooks need: a contact by phone, a message by provider id."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store.messages import _record
from store.records import MessageRecord
from store.schema import contacts, messages


async def contact_for_phone(engine: AsyncEngine, e164: str) -> str | None:
    """The contact an inbound SMS from ``e164`` belongs to.

    The number we last texted them at wins (the ledger holds it normalised); else a profile
    whose ``phone`` trait is written in E.164.
    """
    sent = (
        sa.select(messages.c.contact_id)
        .where(messages.c.channel == "sms", messages.c.to_address == e164)
        .order_by(messages.c.created_at.desc())
        .limit(1)
    )
    profile = sa.select(contacts.c.id).where(contacts.c.phone == e164).limit(1)
    async with engine.connect() as conn:
        found = (await conn.execute(sent)).scalar()
        return found or (await conn.execute(profile)).scalar()


async def message_by_provider_id(
    engine: AsyncEngine, provider: str, provider_id: str
) -> MessageRecord | None:
    """The message a provider knows as ``provider_id`` (Twilio's ``MessageSid``)."""
    stmt = sa.select(messages).where(
        messages.c.provider == provider, messages.c.provider_id == provider_id
    )
    async with engine.connect() as conn:
        row = (await conn.execute(stmt)).first()
    return _record(row) if row else None
