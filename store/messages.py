"""The send ledger: one row per idempotency key, so a retried send never mails twice.

A message moves ``prepared`` → ``sending`` (claimed just before the provider call) →
``committing`` (the point of no return: SMTP's DATA, an HTTP API's request) → ``sent``;
or ends ``refused`` (consent, suppression), ``skipped`` (a frequency cap, per step),
``failed`` (the provider refused it for good) or ``unknown`` (interrupted after the point of
no return, and the provider cannot say whether it has it). A row left in ``sending`` was
certainly not handed over; one left in ``committing`` may have been: the deliver activity
then never sends blindly again (see ``activities/sending.py``).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import reads, upsert, utc
from store.records import MessageRecord
from store.schema import messages

IN_FLIGHT = ("prepared", "sending", "committing")
# What ``sojourn outbox`` lists: messages that left, and those that may have.
DELIVERED = ("sent", "unknown")


def _record(row: sa.Row) -> MessageRecord:
    data = dict(row._mapping)
    data["created_at"] = utc(data["created_at"])
    data["sent_at"] = utc(data["sent_at"])
    # Columns added by m0002 are read through their own methods (deferral, locale).
    for extra in ("not_before", "deferrals", "locale"):
        data.pop(extra, None)
    return MessageRecord.model_validate(data)


class MessageRepo:
    """Messages by idempotency key."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = reads(engine)

    async def prepare(self, message: MessageRecord, locale: str | None = None) -> MessageRecord:
        """Insert ``message`` unless its key exists; return the row that is stored."""
        values = {**message.model_dump(), "locale": locale}
        stmt = upsert(self._engine, messages).values(values).on_conflict_do_nothing()
        async with self._engine.begin() as conn:
            await conn.execute(stmt)
        stored = await self.get(message.key)
        assert stored is not None
        return stored

    async def get(self, key: str) -> MessageRecord | None:
        """One message by idempotency key."""
        async with self._reads.connect() as conn:
            row = (await conn.execute(sa.select(messages).where(messages.c.key == key))).first()
        return _record(row) if row else None

    async def by_message_id(self, message_id: str) -> MessageRecord | None:
        """One message by its public id (what tracking events refer to as ``email_id``)."""
        async with self._reads.connect() as conn:
            stmt = sa.select(messages).where(messages.c.message_id == message_id)
            row = (await conn.execute(stmt)).first()
        return _record(row) if row else None

    async def mark(
        self,
        key: str,
        status: str,
        *,
        at: datetime | None = None,
        reason: str | None = None,
        provider: str | None = None,
        provider_id: str | None = None,
    ) -> bool:
        """Move a prepared (or claimed) message on; False when it had moved already."""
        stmt = (
            messages.update()
            .where(messages.c.key == key, messages.c.status.in_(IN_FLIGHT))
            .values(
                status=status, sent_at=at, reason=reason, provider=provider, provider_id=provider_id
            )
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def claim(self, key: str) -> bool:
        """``prepared`` → ``sending`` just before the provider call; False if not prepared."""
        stmt = (
            messages.update()
            .where(messages.c.key == key, messages.c.status == "prepared")
            .values(status="sending")
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def commit(self, key: str, at: datetime) -> bool:
        """``sending`` → ``committing`` just before the point of no return (``sent_at`` = then)."""
        stmt = (
            messages.update()
            .where(messages.c.key == key, messages.c.status == "sending")
            .values(status="committing", sent_at=at)
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def unclaim(self, key: str, reason: str | None = None) -> None:
        """Back to ``prepared`` when the provider certainly did not take the message.

        ``reason`` says why the send waits (e.g. the provider's 429), for ``journeys status``.
        """
        stmt = (
            messages.update()
            .where(messages.c.key == key, messages.c.status.in_(("sending", "committing")))
            .values(status="prepared", sent_at=None, reason=reason)
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def defer(self, key: str, not_before: datetime, reason: str) -> None:
        """Record that a prepared send waits until ``not_before`` (quiet hours, a cap)."""
        stmt = (
            messages.update()
            .where(messages.c.key == key, messages.c.status == "prepared")
            .values(not_before=not_before, reason=reason, deferrals=messages.c.deferrals + 1)
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def deferral(self, key: str) -> tuple[datetime | None, int]:
        """``(not_before, deferrals)`` of a message: how often and until when it waited."""
        stmt = sa.select(messages.c.not_before, messages.c.deferrals).where(messages.c.key == key)
        async with self._reads.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return (utc(row.not_before), row.deferrals) if row else (None, 0)

    async def locale(self, key: str) -> str | None:
        """The locale a message was rendered in."""
        async with self._reads.connect() as conn:
            stmt = sa.select(messages.c.locale).where(messages.c.key == key)
            return (await conn.execute(stmt)).scalar()

    async def list(
        self,
        *,
        contact_id: str | None = None,
        status: str | tuple[str, ...] | None = None,
        limit: int = 50,
        channel: str | None = None,
    ) -> list[MessageRecord]:
        """Most recent messages first, optionally for one contact, status(es) or channel."""
        stmt = sa.select(messages).order_by(messages.c.created_at.desc()).limit(limit)
        if channel is not None:
            stmt = stmt.where(messages.c.channel == channel)
        if contact_id is not None:
            stmt = stmt.where(messages.c.contact_id == contact_id)
        if isinstance(status, str):
            stmt = stmt.where(messages.c.status == status)
        elif status is not None:
            stmt = stmt.where(messages.c.status.in_(status))
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_record(r) for r in rows]
