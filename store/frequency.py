"""Frequency slots: the recent marketing sends per contact, claimed atomically.

Each slot is ``[key, ISO time]`` (email) or ``[key, ISO time, channel]``: cross-channel caps
count them all, per-channel caps only their own channel's.

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
EMAIL = "email"
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

    async def sends(
        self, contact_id: str, channel: str | None = None
    ) -> list[tuple[str, datetime]]:
        """The recorded sends of a contact (of one ``channel``): ``(idempotency key, time)``."""
        rows, _ = await self._read(contact_id)
        return [
            (row[0], datetime.fromisoformat(row[1]))
            for row in rows
            if channel is None or _channel(row) == channel
        ]

    async def claim(
        self,
        contact_id: str,
        key: str,
        at: datetime,
        decide: Decide,
        *,
        channel: str = EMAIL,
        decide_channel: Decide | None = None,
    ) -> datetime | None:
        """Take a slot for ``key`` at ``at`` unless ``decide`` says not before some moment.

        ``decide(previous_send_times, at)`` returns None to allow; ``decide_channel`` judges
        the sends of ``channel`` alone (per-channel limits beside the cross-channel ones).
        Claiming the same key twice is a no-op that allows (a retried delivery keeps its
        slot). Returns None when the slot is taken, else the moment to wait for.
        """
        while True:
            rows, version = await self._read(contact_id)
            if any(row[0] == key for row in rows):
                return None
            times = [datetime.fromisoformat(row[1]) for row in rows]
            waits = [decide(times, at)]
            if decide_channel is not None:
                own = [datetime.fromisoformat(r[1]) for r in rows if _channel(r) == channel]
                waits.append(decide_channel(own, at))
            not_before = max((w for w in waits if w is not None), default=None)
            if not_before is not None:
                return not_before
            fresh = [row for row in rows if datetime.fromisoformat(row[1]) > at - KEEP]
            # Email slots keep their two-element shape, so older readers still understand them.
            fresh.append([key, at.isoformat()] + ([channel] if channel != EMAIL else []))
            if await self._write(contact_id, fresh, version):
                return None

    async def release(self, contact_id: str, key: str) -> None:
        """Give back the slot of a send that did not happen after all."""
        while True:
            rows, version = await self._read(contact_id)
            kept = [row for row in rows if row[0] != key]
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


def _channel(row: list[str]) -> str:
    # [key, time] rows predate channels: they are email.
    return row[2] if len(row) > 2 else EMAIL
