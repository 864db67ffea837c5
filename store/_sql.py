"""Small helpers that keep the repositories portable between SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, overload

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def upsert(engine: AsyncEngine, table: sa.Table) -> Any:
    """An ``INSERT`` that supports ``on_conflict_do_nothing/do_update`` on both backends."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: datetime | None) -> datetime | None: ...
def utc(value: datetime | None) -> datetime | None:
    """Aware UTC datetime; SQLite hands back naive values that were stored as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def now() -> datetime:
    """The current time, aware, UTC."""
    return datetime.now(UTC)


def reads(engine: AsyncEngine) -> AsyncEngine:
    """The engine a repository's reads (``async with reads.connect()``) go through.

    On PostgreSQL, the same pool in autocommit: SQLAlchemy's asyncpg dialect otherwise sends
    ``BEGIN`` before a read's first statement and ``ROLLBACK`` when the connection goes back,
    three round trips for one ``SELECT`` (about 12 % of a worker's CPU on a burst of sign-ups).
    Under READ COMMITTED each statement sees its own snapshot anyway, so a read block sees
    nothing different. Writes keep ``engine.begin()``; a read that needs a transaction (``SET
    LOCAL``) keeps ``engine.connect()``. SQLite is left as it is.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


_LOCK = sa.text("SELECT pg_advisory_xact_lock(:key)")


def _lock_key(contact_id: str) -> int:
    # A stable signed 64-bit key (Python's hash() changes between processes).
    return int.from_bytes(
        hashlib.blake2b(contact_id.encode(), digest_size=8).digest(), "big", signed=True
    )


async def lock_contacts(conn: AsyncConnection, contact_ids: Iterable[str]) -> None:
    """On PostgreSQL, hold these contacts' locks until the transaction ends.

    Taken by whatever writes a contact's events, and by a merge of identities for both its
    contacts (:mod:`store.identities`, :mod:`store.links`). The ladder's refresh
    (:mod:`store.segments.ladder`) deletes and re-inserts a (contact, name)'s ranks from what
    its statement sees: two transactions storing events of one contact at once both wrote
    rank 1, and the second failed on ``event_ranks``'s key (a 500 for that call under load).
    Locks are taken in key order, so two batches naming the same contacts in another order
    cannot deadlock. SQLite has one writer at a time already.
    """
    if conn.dialect.name != "postgresql":
        return
    for key in sorted({_lock_key(c) for c in contact_ids}):
        await conn.execute(_LOCK, {"key": key})
