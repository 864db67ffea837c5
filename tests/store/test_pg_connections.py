"""PostgreSQL round trips: a burst reuses the pool's connections, a read is one statement."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from store import Store
from store.db import PG_POOL_SIZE
from store.records import EventRecord


async def test_a_burst_of_reads_reuses_the_pools_connections(pg_store: Store | str) -> None:
    if isinstance(pg_store, str):
        pytest.skip(pg_store)
    store = Store.from_url(pg_store.engine.url.render_as_string(hide_password=False))
    opened: list[Any] = []
    sa.event.listen(store.engine.sync_engine, "connect", lambda conn, record: opened.append(conn))

    async def read() -> None:
        async with store.engine.connect() as conn:
            await conn.execute(sa.text("SELECT pg_sleep(0.05)"))

    try:
        rounds = []
        for _ in range(3):
            before = len(opened)
            await asyncio.gather(*(read() for _ in range(PG_POOL_SIZE)))
            rounds.append(len(opened) - before)
    finally:
        await store.close()
    # The first burst opens what it needs; the next ones find them all in the pool (with
    # SQLAlchemy's default of 5 kept, each burst opened 10 new connections again).
    assert rounds[0] > 0 and rounds[1:] == [0, 0], rounds


async def test_reads_send_no_begin_and_writes_stay_transactions(
    pg_store: Store | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository's read is its SELECT alone (not BEGIN, SELECT, ROLLBACK); a write is
    still one transaction, so a failing statement takes the whole write back."""
    if isinstance(pg_store, str):
        pytest.skip(pg_store)
    started: list[str] = []
    real = asyncpg.connection.Connection.transaction

    def counting(self: asyncpg.Connection, **kwargs: Any) -> Any:
        started.append("transaction")
        return real(self, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "transaction", counting)
    store = pg_store
    at = datetime.now(UTC)
    event = EventRecord(
        message_id=f"m-{uuid.uuid4().hex}",
        contact_id=f"c-{uuid.uuid4().hex[:8]}",
        name="Page Viewed",
        timestamp=at,
        received_at=at,
    )
    await store.events.append(event)
    assert started == ["transaction"], "the append is one transaction"
    started.clear()
    assert await store.contacts.get(event.contact_id) is not None
    assert [e.message_id for e in await store.events.pending_for(event.contact_id)] == [
        event.message_id
    ]
    assert await store.messages.by_message_id("no-such-message") is None
    assert started == [], "reads start no transaction"
    # Atomicity kept: a write whose last statement fails leaves nothing of the first ones
    # (DDL is transactional on PostgreSQL).
    table = f"t_atomic_{uuid.uuid4().hex[:8]}"
    with pytest.raises(sa.exc.DBAPIError):
        async with store.engine.begin() as conn:
            await conn.execute(sa.text(f"CREATE TABLE {table} (x int)"))
            await conn.execute(sa.text(f"INSERT INTO {table} VALUES (1)"))
            await conn.execute(sa.text("SELECT 1/0"))
    async with store.engine.connect() as conn:
        exists = (await conn.execute(sa.text(f"SELECT to_regclass('public.{table}')"))).scalar()
    assert exists is None, "the failed write was rolled back whole"
