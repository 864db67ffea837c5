"""On PostgreSQL a process keeps its connections: a burst reuses them instead of opening more."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from store import Store
from store.db import PG_POOL_SIZE


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
