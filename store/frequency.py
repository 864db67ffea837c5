"""Frequency slots: the recent marketing sends per contact, claimed atomically.

Two journeys racing for the same contact both read the row, both decide, and both try to
write it back with ``WHERE version = <what they read>``: exactly one write succeeds, the other
re-reads and sees the slot taken. That works the same on SQLite and PostgreSQL, without locks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import upsert
from store.schema_messaging import frequency_slots

KEEP = timedelta(days=31)  # longer than any sensible cap window
Decide = Callable[[list[datetime], datetime], datetime | None]


class FrequencyRepo:
    """Claims a send slot per contact under a caller-supplied rule."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _read(self, contact_id: str) -> tuple[list[list[str]], int]:
        async with self._engine.begin() as conn:
            await conn.execute(
                upsert(self._engine, frequency_slots)
                .values(contact_id=contact_id, sends=[], version=0)
                .on_conflict_do_nothing()
            )
            row = (
                await conn.execute(
                    sa.select(frequency_slots).where(frequency_slots.c.contact_id == contact_id)
                )
            ).one()
        return list(row.sends), row.version

    async def sends(self, contact_id: str) -> list[tuple[str, datetime]]:
        """The recorded sends of a contact: ``(idempotency key, time)``."""
        rows, _ = await self._read(contact_id)
        return [(k, datetime.fromisoformat(t)) for k, t in rows]

    async def claim(
        self, contact_id: str, key: str, at: datetime, decide: Decide
    ) -> datetime | None:
        """Take a slot for ``key`` at ``at`` unless ``decide`` says not before some moment.

        ``decide(previous_send_times, at)`` returns None to allow. Claiming the same key twice
        is a no-op that allows (a retried delivery keeps its slot). Returns None when the slot
        is taken, else the moment ``decide`` asked to wait for.
        """
        while True:
            rows, version = await self._read(contact_id)
            if any(k == key for k, _ in rows):
                return None
            times = [datetime.fromisoformat(t) for _, t in rows]
            not_before = decide(times, at)
            if not_before is not None:
                return not_before
            fresh = [[k, t] for k, t in rows if datetime.fromisoformat(t) > at - KEEP]
            fresh.append([key, at.isoformat()])
            if await self._write(contact_id, fresh, version):
                return None

    async def release(self, contact_id: str, key: str) -> None:
        """Give back the slot of a send that did not happen after all."""
        while True:
            rows, version = await self._read(contact_id)
            kept = [[k, t] for k, t in rows if k != key]
            if len(kept) == len(rows) or await self._write(contact_id, kept, version):
                return

    async def _write(self, contact_id: str, sends: list[list[str]], version: int) -> bool:
        stmt = (
            frequency_slots.update()
            .where(
                frequency_slots.c.contact_id == contact_id,
                frequency_slots.c.version == version,
            )
            .values(sends=sends, version=version + 1)
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)
