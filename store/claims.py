"""Route claims: a lease per contact, so one relay at a time routes that contact's events.

Several gateway processes share one PostgreSQL. Each relay claims a contact before routing its
unrouted events and releases it after; a claim held by another live relay is refused, so a
contact's events are routed by one relay, in order, once. A claim has an expiry that its holder
renews while it works: a relay that crashed (or hangs) loses its contacts after ``ttl`` seconds
and another relay carries on from the first unrouted event.

SQLite is the embedded, one-gateway shape: one process, one relay, whose lanes already keep a
contact to one lane at a time. There :func:`claims_for` gives :class:`LocalClaims`, kept in
memory, so routing an event costs no claim and release writes on SQLite's single write lock.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import now, reads, upsert
from store.schema import route_claims


class RouteClaims:
    """Claim, renew and release contacts for one relay (``owner``), in the shared table."""

    shared = True  # other processes may hold claims: look again after releasing

    def __init__(self, engine: AsyncEngine, owner: str, ttl: float = 30.0) -> None:
        self._engine = engine
        self._reads = reads(engine)
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
        async with self._reads.connect() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none()


class LocalClaims:
    """The claims of the only relay on a SQLite store: in memory, never refused."""

    shared = False

    def __init__(self, owner: str, ttl: float = 30.0) -> None:
        self.owner = owner
        self.ttl = timedelta(seconds=ttl)
        self._held: set[str] = set()

    async def claim(self, contact_id: str) -> bool:
        """Take (or renew) the contact."""
        self._held.add(contact_id)
        return True

    async def release(self, contact_id: str) -> None:
        """Give the contact back."""
        self._held.discard(contact_id)

    async def holder(self, contact_id: str) -> str | None:
        """This relay while it routes the contact, else None."""
        return self.owner if contact_id in self._held else None


def claims_for(engine: AsyncEngine, owner: str, ttl: float = 30.0) -> RouteClaims | LocalClaims:
    """Shared claims on PostgreSQL (several gateways), in-memory ones on SQLite (one)."""
    if engine.dialect.name == "sqlite":
        return LocalClaims(owner, ttl)
    return RouteClaims(engine, owner, ttl)
