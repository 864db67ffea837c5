"""The Alembic migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import store.schema_messaging  # noqa: F401  (registers the messaging tables on the metadata)
import store.schema_privacy  # noqa: F401  (and the privacy tables)
from store import Store
from store.schema import metadata


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
