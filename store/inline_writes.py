"""Small SQLite writes run inline on the event loop: one call, not a thread hop per statement.

Through aiosqlite every statement is a round trip to the connection's thread and back (a queue,
a GIL hand-over, a wake-up of the loop), several per statement with the transaction's BEGIN and
COMMIT. Storing one ``Page Viewed`` is five statements (the row, the recent-event ladder, the
computed fields): 4.0 ms that way against 0.7 ms run directly with :mod:`sqlite3` on the same
file (median of 500 sequential appends on the two-core development machine). A write on a
local SQLite file in WAL mode needs no fsync until a checkpoint, so running it inline blocks
the loop for well under a millisecond an event, less than the hops it saves.

Only for writes that are short and bounded (the event log's group commits): whole-base reads
stay on the async engine, and so do WAL checkpoints. SQLite checkpoints in whichever connection
commits past ``wal_autocheckpoint`` pages, which inline would be the loop: one request in a
hundred or so stalled ~20 ms. The inline connection therefore never checkpoints itself; every
:data:`CHECKPOINT_EVERY` commits it asks for a passive one on the async engine's thread.

The inline connection never waits on a lock: it holds the process's write turn
(:mod:`store.write_gate`) and gives up at once when another *process* writes, so the caller
falls back to the async engine, which waits in its thread (:class:`Busy`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

from store.write_gate import database_path, sqlite_file, write_gate

log = structlog.get_logger(__name__)

R = TypeVar("R")
# Inline commits between two checkpoints: a few pages each, so about SQLite's own default of
# 1,000 pages of WAL.
CHECKPOINT_EVERY = 200


class Busy(Exception):
    """Another process holds the file's write lock: write through the async engine instead."""


class InlineWriter:
    """Runs ``work(conn)`` in one transaction on a plain :mod:`sqlite3` connection.

    Args:
        path: the SQLite file, the one the async engine writes.
        checkpoint: runs a WAL checkpoint off the loop (on the async engine).
    """

    def __init__(self, path: str, checkpoint: Callable[[], Awaitable[object]]) -> None:
        self.path = path
        self._checkpoint = checkpoint
        self._commits = 0
        self._checkpointing: asyncio.Task[object] | None = None
        # One connection, used only from the event loop's thread between awaits; no busy
        # timeout, so a lock held by another process is an immediate Busy, never a stall.
        self.engine = sa.create_engine(
            f"sqlite:///{path}",
            poolclass=StaticPool,
            connect_args={"timeout": 0, "check_same_thread": False},
        )
        sa.event.listen(self.engine, "connect", _pragmas)

    async def run(self, work: Callable[[sa.Connection], R]) -> R:
        """``work``'s result, committed; raises :class:`Busy` when another process writes."""
        async with write_gate(self.path):
            try:
                with self.engine.begin() as conn:
                    result = work(conn)
            except OperationalError as exc:
                if _locked(exc.orig):
                    raise Busy(str(exc.orig)) from exc
                raise
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0 and (
            self._checkpointing is None or self._checkpointing.done()
        ):
            self._checkpointing = asyncio.ensure_future(self._checkpoint())
        return result

    def dispose(self) -> None:
        """Close the connection."""
        self.engine.dispose()


def _pragmas(dbapi_conn: Any, _record: Any) -> None:
    # As the async engine's (store/db.py): WAL is a property of the file, synchronous is not.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA wal_autocheckpoint=0")  # see the module docstring
    cursor.close()


def _locked(exc: BaseException | None) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


_writers: weakref.WeakKeyDictionary[Any, InlineWriter] = weakref.WeakKeyDictionary()


def inline_writer(engine: AsyncEngine) -> InlineWriter | None:
    """The inline writer beside ``engine`` when it is on a SQLite file, else None (shared by
    every repository of the engine; closed by :func:`dispose`)."""
    if not sqlite_file(engine):
        return None
    writer = _writers.get(engine.sync_engine)
    if writer is None:

        async def checkpoint() -> None:
            try:
                async with engine.connect() as conn:
                    await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception as exc:  # the next one catches up; writes never wait on it
                log.warning("WAL checkpoint failed", error=repr(exc))

        writer = _writers[engine.sync_engine] = InlineWriter(database_path(engine), checkpoint)
    return writer


def dispose(engine: AsyncEngine) -> None:
    """Close ``engine``'s inline writer, if it has one."""
    writer = _writers.pop(engine.sync_engine, None)
    if writer is not None:
        writer.dispose()
