"""Route claims: a lease per contact, so one relay at a time routes that contact's events.

Several gateway processes share one PostgreSQL. Each relay claims a contact before routing its
unrouted events and releases it after; a claim held by another live relay is refused, so a
contact's events are routed by one relay, in order, once. A claim has an expiry that its holder
renews while it works: a relay that crashed (or hangs) loses its contacts after ``ttl`` seconds
and another relay carries on from the first unrouted event. The same table works on SQLite.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import now, upsert
from store.schema import route_claims


class RouteClaims:
    """Claim, renew and release contacts for one relay (``owner``)."""

    def __init__(self, engine: AsyncEngine, owner: str, ttl: float = 30.0) -> None:
        self._engine = engine
        self.owner = owner
        self.ttl = timedelta(seconds=ttl)

    async def claim(self, contact_id: str) -> bool:
        """Take (or renew) the contact; False while another relay's claim is unexpired."""
        at = now()
        stmt = upsert(self._engine, route_claims).values(
            contact_id=contact_id, owner=self.owner, expires_at=at + self.ttl
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[route_claims.c.contact_id],
            set_={"owner": stmt.excluded.owner, "expires_at": stmt.excluded.expires_at},
            # Only a lapsed claim, or our own, can be taken: the row lock (PostgreSQL) or the
            # single writer (SQLite) makes two relays' claims on one contact exclusive.
            where=sa.or_(route_claims.c.expires_at < at, route_claims.c.owner == self.owner),
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def release(self, contact_id: str) -> None:
        """Give the contact back (only if we still hold it)."""
        stmt = route_claims.delete().where(
            route_claims.c.contact_id == contact_id, route_claims.c.owner == self.owner
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def holder(self, contact_id: str) -> str | None:
        """Who holds an unexpired claim on the contact, if anyone (for tests and ops)."""
        stmt = sa.select(route_claims.c.owner).where(
            route_claims.c.contact_id == contact_id, route_claims.c.expires_at >= now()
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none()
