"""Inline SQLite writes: one call on the loop, never stalled by another process's lock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from store import Store, inline_writes
from store.inline_writes import Busy, InlineWriter, inline_writer
from store.records import EventRecord
from store.schema import events


def _record(message_id: str) -> EventRecord:
    now = datetime.now(UTC)
    return EventRecord(
        message_id=message_id, contact_id="u-i", name="Page Viewed", timestamp=now, received_at=now
    )


async def test_only_sqlite_files_get_an_inline_writer(store: Store) -> None:
    assert inline_writer(store.engine) is inline_writer(store.engine)  # one per engine
    memory = Store.from_url("sqlite+aiosqlite://")
    try:
        assert inline_writer(memory.engine) is None
    finally:
        await memory.close()


async def test_a_lock_held_by_another_process_is_busy_and_the_append_waits_for_it(
    store: Store, tmp_path: Path
) -> None:
    writer = inline_writer(store.engine)
    assert writer is not None
    other = sqlite3.connect(writer.path, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        with pytest.raises(Busy):
            await writer.run(lambda conn: conn.execute(sa.text("DELETE FROM events")))
        release = threading.Timer(0.2, other.rollback)
        release.start()
        # The append falls back to the async engine, which waits in its own thread.
        assert await store.events.append(_record("m-busy")) is True
        release.join()
    finally:
        other.close()
    async with store.engine.connect() as conn:
        ids = (await conn.execute(sa.select(events.c.message_id))).scalars().all()
    assert ids == ["m-busy"]


async def test_checkpoints_are_asked_for_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inline_writes, "CHECKPOINT_EVERY", 5)
    asked: list[int] = []

    async def checkpoint() -> None:
        asked.append(1)

    path = tmp_path / "c.db"
    sqlite3.connect(path).execute("CREATE TABLE t (n INTEGER)").connection.close()
    writer = InlineWriter(str(path), checkpoint)
    try:
        for n in range(12):
            await writer.run(lambda conn, n=n: conn.execute(sa.text(f"INSERT INTO t VALUES ({n})")))
            await asyncio.sleep(0)  # a checkpoint still running is not asked for twice
        with writer.engine.connect() as conn:
            autocheckpoint = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            count = conn.execute(sa.text("SELECT count(*) FROM t")).scalar()
    finally:
        writer.dispose()
    assert count == 12
    assert autocheckpoint == 0  # the inline connection never checkpoints on the loop itself
    assert len(asked) == 2  # after the 5th and the 10th commit
