"""SQLite for SQLAlchemy's asyncio engine without a thread per connection.

aiosqlite runs every call (``cursor()``, ``execute``, ``fetchall``, ``close``…) on a thread of
its own and hands the answer back through the event loop: two thread switches and a fight for
the GIL per call, several calls per statement. Under ``bench.ingest`` that hand-off, not
SQLite, was most of the store's cost on the event loop (py-spy: ``pthread_cond_signal``,
``sem_post``, ``getpid`` and the self-pipe). This module offers aiosqlite's interface, as far as
SQLAlchemy's ``sqlite+aiosqlite`` dialect uses it, and runs each call inline: a statement on
the local file takes microseconds, less than the hand-off did.

The one wait SQLite can impose is its write lock. Connections open with a busy timeout of zero,
and a statement that finds the lock taken is retried here after an ``asyncio.sleep`` (1 ms
doubling to 4 ms, for at most the connection's ``timeout``, sqlite3's own argument), so the
loop serves everyone else meanwhile, including the coroutine that holds the lock and is about
to commit. The pauses stay short because the holder is usually another process's transaction
of a millisecond or two: with pauses doubling to 50 ms, the worker's writes in ``sojourn dev``
slept 4.5 s in a 10 s ``bench.ingest`` mix (800 retries), long after the lock was free; a
failed try costs microseconds. SQLite's own busy handler does the same sleeps but would block
the loop: with every connection of a process on one thread, a writer would then wait for a
holder that can never run.

Writers of one process queue for the file in order instead (:class:`_Gate`): the first write
statement of a transaction waits for the gate, an ``asyncio.Lock`` per database file and event
loop, held until the transaction ends. In-process writers then hand the lock on without sleeping
(the retries' 1–50 ms pauses were most of a relay's routing mark under load); the retry remains
for writers in other processes (``sojourn worker`` beside the gateway, the CLI).

Use :func:`dbapi` as ``create_async_engine(url, module=dbapi())`` (see :mod:`store.db`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Callable, Iterable, Sequence
from types import SimpleNamespace
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

LOCK_WAIT = 5.0  # sqlite3's default timeout: seconds a statement waits for the write lock
FIRST_PAUSE = 0.001
LONGEST_PAUSE = 0.004
SQLITE_BUSY = 5  # the primary code; SQLITE_BUSY_SNAPSHOT (517) cannot be waited out


# Statements that take the write lock (Python's sqlite3 opens a transaction before DML), or
# open a transaction that will (``BEGIN IMMEDIATE`` before a read-modify-write).
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "BEGIN")


def _writes(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(WRITES)


class _Gate:
    """One ``asyncio.Lock`` per database file and event loop: this process's writers in order."""

    _locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def lock(cls, database: str) -> asyncio.Lock:
        per_loop = cls._locks.setdefault(asyncio.get_running_loop(), {})
        return per_loop.setdefault(database, asyncio.Lock())


def _busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == SQLITE_BUSY


async def _retrying(call: Callable[[], Any], lock_wait: float) -> Any:
    """``call()``, again after a pause whenever another connection holds the write lock."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + lock_wait
    pause = FIRST_PAUSE
    while True:
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or loop.time() >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE)


class Cursor:
    """aiosqlite's cursor, inline."""

    def __init__(self, owner: Connection, cursor: sqlite3.Cursor) -> None:
        self._owner = owner
        self._cursor = cursor

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        args = (sql,) if parameters is None else (sql, parameters)
        await self._owner.run(sql, lambda: self._cursor.execute(*args))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        rows = list(parameters)  # a generator must survive a retry
        await self._owner.run(sql, lambda: self._cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_: object) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _CursorCall:
    """What ``connection.cursor()`` returns: awaitable, or entered as a context (as aiosqlite)."""

    def __init__(self, owner: Connection) -> None:
        self._owner = owner
        self._cursor: Cursor | None = None

    def __await__(self) -> Any:
        return self.__aenter__().__await__()

    async def __aenter__(self) -> Cursor:
        self._cursor = Cursor(self._owner, self._owner._conn.cursor())
        return self._cursor

    async def __aexit__(self, *_: object) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class _Immediate:
    """The one piece of aiosqlite's thread queue the dialect reaches for (to set the isolation
    level): run the function now and settle its future."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class Connection:
    """aiosqlite's connection, inline; ``_connection`` is None once closed."""

    def __init__(
        self, connection: sqlite3.Connection, database: str, lock_wait: float = LOCK_WAIT
    ) -> None:
        self._connection: sqlite3.Connection | None = connection
        self._lock_wait = lock_wait
        self._tx = _Immediate()
        # An in-memory database is private to its connection: nobody to queue behind.
        self._database = None if database in ("", ":memory:") else database
        self._gate: asyncio.Lock | None = None  # held from the first write to the end

    async def run(self, sql: str, call: Callable[[], Any]) -> Any:
        """Run a statement; a write first takes this process's gate for the database.

        Only outside a transaction: one that is open already may hold SQLite's lock, and
        waiting for the gate then could wait for a writer that waits for us.
        """
        if (
            self._gate is None
            and self._database is not None
            and not self._conn.in_transaction
            and _writes(sql)
        ):
            gate = _Gate.lock(self._database)
            # asyncio.timeout, not wait_for: wait_for runs the acquire as a task of its own,
            # and the gate, once that task took it, stayed held for the two loop turns the
            # hand-back took (under load, tens of ms in which no writer of the process ran).
            try:
                async with asyncio.timeout(self._lock_wait):
                    await gate.acquire()
            except TimeoutError:
                raise sqlite3.OperationalError("database is locked") from None
            self._gate = gate
        try:
            return await _retrying(call, self._lock_wait)
        finally:
            self._settle()

    def _settle(self) -> None:
        """Hand the gate on once no transaction holds the write lock any more."""
        if self._gate is not None and (
            self._connection is None or not self._connection.in_transaction
        ):
            gate, self._gate = self._gate, None
            gate.release()

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    def cursor(self) -> _CursorCall:
        self._conn  # noqa: B018 - fails on a closed connection, as aiosqlite's does
        return _CursorCall(self)

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        cursor = await self.cursor()
        return await cursor.execute(sql, parameters)

    async def execute_fetchall(self, sql: str, parameters: Any = None) -> list[Any]:
        cursor = await self.execute(sql, parameters)
        try:
            return await cursor.fetchall()
        finally:
            await cursor.close()

    async def commit(self) -> None:
        connection = self._conn
        try:
            await _retrying(connection.commit, self._lock_wait)
        finally:
            self._settle()

    async def rollback(self) -> None:
        try:
            self._conn.rollback()
        finally:
            self._settle()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate); nothing runs elsewhere to stop."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()
        self._settle()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value  # type: ignore[assignment]


class _Opening:
    """What :func:`connect` returns: awaited, the open connection. ``_thread`` is there because
    SQLAlchemy marks aiosqlite's thread a daemon; this driver has none."""

    def __init__(self, database: str, lock_wait: float, kwargs: dict[str, Any]) -> None:
        self._database = database
        self._lock_wait = lock_wait
        self._kwargs = kwargs
        self._thread = SimpleNamespace(daemon=True)

    def __await__(self) -> Any:
        return self._open().__await__()

    async def _open(self) -> Connection:
        # timeout=0: SQLite must never sleep on the loop's thread; _retrying waits instead.
        connection = sqlite3.connect(self._database, timeout=0, **self._kwargs)
        return Connection(connection, str(self._database), self._lock_wait)


def connect(database: str, *, timeout: float = LOCK_WAIT, **kwargs: Any) -> _Opening:
    """Open ``database`` (awaitable); ``timeout``, as in sqlite3, bounds each statement's wait
    for the write lock (``store.db`` passes 30 s)."""
    kwargs["check_same_thread"] = False  # the pool may close a connection from a GC hook
    return _Opening(database, timeout, kwargs)


def _module() -> SimpleNamespace:
    """The module-shaped object SQLAlchemy's adapter reads its names from."""
    names: dict[str, Any] = {
        name: getattr(sqlite3, name)
        for name in (
            "DatabaseError",
            "Error",
            "IntegrityError",
            "NotSupportedError",
            "OperationalError",
            "ProgrammingError",
            "sqlite_version",
            "sqlite_version_info",
            "PARSE_COLNAMES",
            "PARSE_DECLTYPES",
            "Binary",
        )
    }
    return SimpleNamespace(
        connect=connect, Connection=Connection, __version__=aiosqlite.__version__, **names
    )


def dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    """The DB-API module for ``create_async_engine(..., module=dbapi())``."""
    return AsyncAdapt_aiosqlite_dbapi(_module(), sqlite3)  # type: ignore[arg-type]


class InlineAsyncConnection(AsyncConnection):
    """SQLAlchemy's ``AsyncConnection``, closed in place when its ``async with`` ends.

    SQLAlchemy closes a connection leaving ``async with`` in a task of its own behind
    ``asyncio.shield``, so that a cancellation cannot cut a close short (on a network driver the
    close awaits the server). That task costs the caller three turns of the event loop, each as
    long as everything else the loop has ready: under ``bench.ingest`` a group commit spent
    12 ms a transaction there, against 0.3 ms for the commit itself. On this driver a close
    never suspends (every call runs inline), so no cancellation can land inside it.
    """

    __slots__ = ()

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        await self.close()


class InlineAsyncEngine(AsyncEngine):
    """SQLAlchemy's ``AsyncEngine`` whose connections are :class:`InlineAsyncConnection`."""

    __slots__ = ()
    _connection_cls = InlineAsyncConnection


def inline_engine(engine: AsyncEngine) -> AsyncEngine:
    """``engine``, as an :class:`InlineAsyncEngine` over the same pool (an engine built with
    :func:`dbapi` as its module)."""
    return InlineAsyncEngine(engine.sync_engine)


__all__: Sequence[str] = (
    "Connection",
    "Cursor",
    "InlineAsyncConnection",
    "InlineAsyncEngine",
    "connect",
    "dbapi",
    "inline_engine",
)
