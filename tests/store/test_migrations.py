"""The Alembic migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import store.schema_messaging  # noqa: F401  (registers the messaging tables on the metadata)
import store.schema_privacy  # noqa: F401  (and the privacy tables)
from store import Store
from store._sql import utc
from store.db import _alembic_config
from store.schema import metadata, presence_since

MARGIN = timedelta(hours=1)  # 0016_presence_since's


def _differences(sync_conn: Any) -> list[Any]:
    """What autogenerate would change, leaving out column comments (documentation only) and
    alembic's own bookkeeping table."""
    context = MigrationContext.configure(sync_conn, opts={"compare_type": False})
    found = []
    for diff in compare_metadata(context, metadata):
        changes = diff if isinstance(diff, list) else [diff]
        for change in changes:
            if change[0] == "modify_comment":
                continue
            if change[0] == "remove_table" and change[1].name == "alembic_version":
                continue
            found.append(change)
    return found


async def test_migrated_database_matches_the_declared_schema(db: Store) -> None:
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


async def test_migrating_again_is_a_no_op(db: Store) -> None:
    await db.migrate()
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


async def test_presence_is_complete_from_the_start_only_on_a_database_without_contacts(
    tmp_path: Path,
) -> None:
    """0016 records from when journey presence is complete: at once on an empty database,
    an hour after the upgrade on one whose contacts may have journeys started uncounted."""
    empty = Store.from_url(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    used = Store.from_url(f"sqlite+aiosqlite:///{tmp_path / 'used.db'}")
    try:
        await empty.migrate()
        async with used.engine.begin() as conn:
            await conn.run_sync(
                lambda sync: command.upgrade(_alembic_config(sync), "0015_presence")
            )
        await used.contacts.ensure("c-before", datetime.now(UTC))
        before = datetime.now(UTC)
        await used.migrate()
        for store, expected in ((empty, None), (used, before + MARGIN)):
            async with store.engine.connect() as conn:
                [row] = (await conn.execute(sa.select(presence_since))).all()
            if expected is None:
                assert row.since is None
            else:
                assert abs(utc(row.since) - expected) < timedelta(minutes=1)  # type: ignore[operator]
    finally:
        await empty.close()
        await used.close()
