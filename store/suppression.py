"""The suppression list: addresses that hard-bounced or complained are never mailed again.

It applies to every message, transactional ones included: mailing an address that does not
exist or that reported spam hurts the sender's reputation for everybody else.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import upsert, utc
from store.schema_messaging import suppressions

HARD_BOUNCE = "hard_bounce"
SPAM_COMPLAINT = "spam_complaint"


class Suppression(BaseModel):
    """One suppressed address and why."""

    address: str
    reason: str
    source: str
    at: datetime
    message_id: str | None = None


def _key(address: str) -> str:
    return address.strip().lower()


class SuppressionRepo:
    """Suppressed addresses, by lower-cased address."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, entry: Suppression) -> bool:
        """Suppress an address; the first reason is kept. True when it was new."""
        values = entry.model_dump()
        values["address"] = _key(entry.address)
        stmt = upsert(self._engine, suppressions).values(values).on_conflict_do_nothing()
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def get(self, address: str) -> Suppression | None:
        """The suppression of ``address``, or None."""
        stmt = sa.select(suppressions).where(suppressions.c.address == _key(address))
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        data = dict(row._mapping)
        data["at"] = utc(data["at"])
        return Suppression.model_validate(data)

    async def is_suppressed(self, address: str) -> bool:
        """Is ``address`` on the list?"""
        return await self.get(address) is not None

    async def remove(self, address: str) -> None:
        """Take an address off the list (an operator's decision, e.g. a fixed mailbox)."""
        async with self._engine.begin() as conn:
            await conn.execute(suppressions.delete().where(suppressions.c.address == _key(address)))
