"""Reads and deletes by contact alone use an index on tables keyed by (journey, contact_id):
the live segments read a contact's enrollments for every event a rule hears, and erasure
deletes a contact's presence rows (SQLite's plan; PostgreSQL has the same indexes)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from store import Store
from store.schema import journey_presence, segment_enrollments


async def _plan(store: Store, statement: sa.Executable) -> str:
    sql = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    async with store.engine.connect() as conn:
        rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")).all()
    return " | ".join(str(row[-1]) for row in rows)


async def test_a_contacts_enrollments_and_presence_are_found_by_index(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        await store.migrate()
        e, p = segment_enrollments.c, journey_presence.c
        enrolled = sa.select(e.journey, e.enrolled_at).where(e.contact_id == "c-1")
        assert "USING INDEX ix_segment_enrollments_contact" in await _plan(store, enrolled)
        erased = journey_presence.delete().where(p.contact_id == "c-1")
        assert "ix_journey_presence_contact" in await _plan(store, erased)
    finally:
        await store.close()
