"""The suppression list: addresses that hard-bounced or complained are never mailed again.

It applies to every message, transactional ones included: mailing an address that does not
exist or that reported spam hurts the sender's reputation for everybody else.

Erasure keeps a contact's addresses on the list only under a keyed hash
(:func:`store.keys.address_hash`), reason ``erased``: the address itself is gone, yet a later
import of it is recognised and not mailed marketing without new consent.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import reads, upsert, utc
from store.keys import address_hash
from store.schema_messaging import suppressions

HARD_BOUNCE = "hard_bounce"
SPAM_COMPLAINT = "spam_complaint"
ERASED = "erased"


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
    """Suppressed addresses, by lower-cased address (and by keyed hash, given the master key).

    Args:
        engine: the store's engine.
        master_key: lets :meth:`get` also find addresses suppressed under their hash.
    """

    def __init__(self, engine: AsyncEngine, master_key: str | None = None) -> None:
        self._engine = engine
        self._reads = reads(engine)
        self._master_key = master_key

    async def add(self, entry: Suppression) -> bool:
        """Suppress an address; the first reason is kept. True when it was new."""
        values = entry.model_dump()
        values["address"] = _key(entry.address)
        stmt = upsert(self._engine, suppressions).values(values).on_conflict_do_nothing()
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def get(self, address: str) -> Suppression | None:
        """The suppression of ``address`` (in clear first, then hashed), or None."""
        keys = [_key(address)]
        if self._master_key is not None:
            keys.append(address_hash(self._master_key, address))
        stmt = sa.select(suppressions).where(suppressions.c.address.in_(keys))
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        if not rows:
            return None
        # A bounce or complaint in clear outranks an erasure's hashed entry.
        row = min(rows, key=lambda r: r.reason == ERASED)
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
