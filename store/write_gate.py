"""One writer at a time per SQLite file, queued in the process instead of in SQLite.

SQLite lets one transaction write at a time. Its losers do not queue: they sleep in the busy
handler (1, 2, 5 … 100 ms a try) and race again, so with a dozen connections in one process
(the gateway's, the worker's, the key ring's, the relay's) most of a busy ``sojourn dev``'s
time went into those sleeps: py-spy found 43 % of all thread samples in
``sqlite3InvokeBusyHandler`` during ``bench.ingest``, and answers took a second. Here every
``engine.begin()`` on a SQLite file first takes the file's :class:`asyncio.Lock` (one per file
and event loop, shared by every engine of the process), so writers wait in arrival order and
each finds the file free. Reads (``engine.connect()``) do not take it: WAL lets them run beside
the writer.

Another process (the CLI, a second ``sojourn worker``) still meets SQLite's own busy handler,
as before; PostgreSQL engines are not gated at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import weakref
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# As long as SQLite's own busy timeout (store/db.py): a writer that waits longer fails the same
# way it did before the gate, instead of hanging (a nested ``begin()`` in another task would).
GATE_TIMEOUT = 30.0


class _Gate:
    """A lock that the task holding it may take again (a ``begin()`` inside a ``begin()``)."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.owner: asyncio.Task[object] | None = None


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Gate]] = (
    weakref.WeakKeyDictionary()
)


def _gate(path: str) -> _Gate:
    per_loop = _gates.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(path, _Gate())


@contextlib.asynccontextmanager
async def write_gate(path: str) -> AsyncIterator[None]:
    """Hold the process's write turn on the SQLite file ``path``."""
    gate = _gate(path)
    task = asyncio.current_task()
    if task is not None and gate.owner is task:
        yield  # this task already writes: SQLite sees one transaction per connection anyway
        return
    try:
        # asyncio.timeout, not wait_for: a lock granted just as the time runs out is handed
        # on by Lock.acquire's own cancellation, never kept by nobody.
        async with asyncio.timeout(GATE_TIMEOUT):
            await gate.lock.acquire()
    except TimeoutError:
        raise sqlite3.OperationalError(
            f"database is locked: another write in this process held {path} "
            f"for over {GATE_TIMEOUT:.0f} s"
        ) from None
    gate.owner = task
    try:
        yield
    finally:
        gate.owner = None
        gate.lock.release()


class GatedEngine(AsyncEngine):
    """An engine on a SQLite file whose transactions take the file's write turn first."""

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        async with write_gate(database_path(self)), super().begin() as conn:
            yield conn


def database_path(engine: AsyncEngine) -> str:
    """The absolute path of ``engine``'s SQLite file (the gate's key)."""
    return os.path.abspath(engine.sync_engine.url.database or "")


def sqlite_file(engine: AsyncEngine) -> bool:
    """Whether ``engine`` is on a SQLite file (not in memory, not another database)."""
    url = engine.sync_engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return False
    return url.query.get("mode") != "memory"  # a shared in-memory database has no file


def gated(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` with gated transactions when it is on a SQLite file; as it is otherwise."""
    return GatedEngine(engine.sync_engine) if sqlite_file(engine) else engine
