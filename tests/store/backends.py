"""Store fixtures on both backends: SQLite (a file per test) and PostgreSQL (a database per run).

PostgreSQL runs at 127.0.0.1:5432 with trust auth; each test session creates its own database
``sojourn_test_<hex>`` and drops it at the end, so concurrent runs never share tables. Tests on
PostgreSQL skip, saying why, when no server answers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from store import Store
from store.schema import (
    contact_scores,
    contacts,
    event_ranks,
    events,
    segment_enrollments,
    segment_wakeups,
)

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
TABLES = (segment_enrollments, contact_scores, event_ranks, segment_wakeups, events, contacts)


async def _admin() -> asyncpg.Connection:
    last: Exception | None = None
    for database in ("test", "postgres"):
        try:
            return await asyncpg.connect(f"{PG_SERVER}/{database}", timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            last = exc
    raise ConnectionError(str(last))


@pytest.fixture(scope="session")
async def pg_store() -> AsyncIterator[Store | str]:
    """A migrated store on a fresh PostgreSQL database, or why there is none."""
    try:
        admin = await _admin()
    except ConnectionError as exc:
        yield f"no PostgreSQL server answers at 127.0.0.1:5432 ({exc})"
        return
    name = f"sojourn_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    store = Store.from_url(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
    try:
        await store.migrate()
        yield store
    finally:
        await store.close()
        admin = await _admin()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _clear(store: Store) -> None:
    async with store.engine.begin() as conn:
        for table in TABLES:
            await conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, pg_store: Store | str
) -> AsyncIterator[Store]:
    """An empty, migrated store on each backend in turn."""
    if request.param == "postgresql":
        if isinstance(pg_store, str):
            pytest.skip(pg_store)
        await _clear(pg_store)
        yield pg_store
        return
    store = Store.from_url(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await store.migrate()
    yield store
    await store.close()
