"""The inline SQLite driver: a writer that meets the write lock waits on the event loop, so the
holder (on the same loop) can still commit; past the bound it fails as SQLite would."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from store import sqlite_inline
from store.db import create_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    yield engine
    await engine.dispose()


async def _values(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return [r.x for r in await conn.execute(sa.text("SELECT x FROM t ORDER BY x"))]


async def test_no_thread_per_connection(engine: AsyncEngine) -> None:
    before = threading.active_count()
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
        assert threading.active_count() == before


async def test_a_writer_waits_for_the_lock_while_the_holder_commits(engine: AsyncEngine) -> None:
    async def second_writer() -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO t VALUES (2)"))

    async with engine.connect() as holder:
        await holder.execute(sa.text("INSERT INTO t VALUES (1)"))  # holds the write lock
        waiting = asyncio.create_task(second_writer())
        await asyncio.sleep(0.1)
        assert not waiting.done()  # waiting for the lock, on the loop, not in SQLite
        await holder.commit()  # possible only because the loop was never blocked
    await asyncio.wait_for(waiting, 5)

    assert await _values(engine) == [1, 2]


async def test_the_wait_is_bounded_by_the_connections_timeout(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """sqlite3's ``timeout`` bounds the wait, for a writer of this process (the gate) and of
    another (the retries) alike."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}"
    impatient = create_async_engine(
        url, module=sqlite_inline.dbapi(), connect_args={"timeout": 0.2}
    )

    async def write() -> None:
        async with impatient.begin() as conn:
            await conn.execute(sa.text("INSERT INTO t VALUES (2)"))

    loop = asyncio.get_running_loop()
    try:
        async with engine.connect() as holder:
            await holder.execute(sa.text("INSERT INTO t VALUES (1)"))
            started = loop.time()
            with pytest.raises(OperationalError, match="database is locked"):
                await write()
            assert 0.2 <= loop.time() - started < 5
            await holder.commit()

        other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        started = loop.time()
        with pytest.raises(OperationalError, match="database is locked"):
            await write()
        assert 0.2 <= loop.time() - started < 5
        other.execute("ROLLBACK")
        other.close()
    finally:
        await impatient.dispose()
    assert await _values(engine) == [1]


async def test_other_errors_are_not_retried(engine: AsyncEngine) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(OperationalError, match="no such table"):
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT * FROM missing"))
    assert loop.time() - started < sqlite_inline.FIRST_PAUSE * 100


async def test_another_process_holding_the_lock_is_waited_for(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a CLI or a second process writing
    other.execute("INSERT INTO t VALUES (1)")

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO t VALUES (2)"))

    waiting = asyncio.create_task(write())
    await asyncio.sleep(0.1)
    assert not waiting.done()
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(waiting, 5)
    assert await _values(engine) == [1, 2]


async def test_writers_of_one_process_queue_without_meeting_the_lock(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy: list[Exception] = []
    real = sqlite_inline._busy

    def counting(exc: sqlite3.OperationalError) -> bool:
        busy.append(exc)
        return real(exc)

    monkeypatch.setattr(sqlite_inline, "_busy", counting)

    async def write(n: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"INSERT INTO t VALUES ({n})"))
            await asyncio.sleep(0.01)  # yields to the others while holding the lock
            await conn.execute(sa.text(f"INSERT INTO t VALUES ({n + 100})"))

    await asyncio.gather(*(write(n) for n in range(10)))

    assert busy == []  # handed on in order, never retried
    assert await _values(engine) == sorted([*range(10), *range(100, 110)])


class _LoopTurns:
    """Counts the event loop's turns: a callback that schedules itself again each turn."""

    def __init__(self) -> None:
        self.turns = 0
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.turns += 1
        self._handle = self._loop.call_soon(self._tick)

    def stop(self) -> None:
        self._handle.cancel()


async def test_an_uncontended_transaction_never_gives_up_the_loop(engine: AsyncEngine) -> None:
    # Each turn given up inside a transaction is a turn of everyone else's work while the
    # process's write gate is held (SQLAlchemy's close-in-a-task took three, wait_for two).
    turns = _LoopTurns()
    await asyncio.sleep(0)
    before = turns.turns
    async with engine.begin() as conn:
        await conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT x FROM t"))
    after = turns.turns
    turns.stop()

    assert after == before
    assert await _values(engine) == [1]


async def test_a_writer_cancelled_while_queued_leaves_the_gate_to_the_others(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as holder:
        await holder.execute(sa.text("INSERT INTO t VALUES (1)"))  # holds the gate

        async def queued(n: int) -> None:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"INSERT INTO t VALUES ({n})"))

        cancelled = asyncio.create_task(queued(2))
        waiting = asyncio.create_task(queued(3))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        await holder.commit()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.wait_for(waiting, 5)

    assert await _values(engine) == [1, 3]
    async with engine.begin() as conn:  # nobody holds the gate any more
        await conn.execute(sa.text("INSERT INTO t VALUES (4)"))
    assert await _values(engine) == [1, 3, 4]
