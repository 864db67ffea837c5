"""The SQLite write gate: writers of one process queue in it, not in SQLite's busy handler."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from store import write_gate
from store.db import create_engine
from store.write_gate import GatedEngine
from store.write_gate import write_gate as gate


async def test_sqlite_files_are_gated_and_others_are_not(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    memory = create_engine("sqlite+aiosqlite://")
    try:
        assert isinstance(engine, GatedEngine)
        assert not isinstance(memory, GatedEngine)
    finally:
        await engine.dispose()
        await memory.dispose()


async def test_writers_of_two_engines_on_one_file_take_turns(tmp_path: Path) -> None:
    """Two engines (the gateway's and the worker's) never hold a write transaction at once,
    so neither waits in SQLite's busy handler; every write lands."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first, second = create_engine(url), create_engine(url)
    async with first.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE t (n INTEGER)"))
    inside = 0
    most = 0

    async def write(engine: sa.ext.asyncio.AsyncEngine, n: int) -> None:
        nonlocal inside, most
        async with engine.begin() as conn:
            inside += 1
            most = max(most, inside)
            await conn.execute(sa.text("INSERT INTO t VALUES (:n)"), {"n": n})
            await asyncio.sleep(0)  # give the other writers every chance to barge in
            inside -= 1

    try:
        await asyncio.gather(*(write(first if n % 2 else second, n) for n in range(40)))
        async with first.connect() as conn:
            count = (await conn.execute(sa.text("SELECT count(*) FROM t"))).scalar_one()
    finally:
        await first.dispose()
        await second.dispose()
    assert count == 40
    assert most == 1


async def test_a_transaction_inside_a_transaction_of_the_same_task_does_not_wait(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "nested.db")
    async with gate(path):
        async with asyncio.timeout(1):
            async with gate(path):
                pass


async def test_a_writer_held_too_long_fails_like_a_locked_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_gate, "GATE_TIMEOUT", 0.05)
    path = str(tmp_path / "held.db")
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with gate(path):
            held.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await held.wait()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        async with gate(path):
            pass
    release.set()
    await task
    async with asyncio.timeout(1), gate(path):  # released: the next writer gets its turn
        pass
