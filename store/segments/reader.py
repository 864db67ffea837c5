"""One-contact lookups on a SQLite file, read on the caller's thread.

A one-contact lookup is about 15 µs of SQLite work, and aiosqlite runs every statement on a
worker thread: the hops there and back cost ten times the query, and on a loaded machine each
hop waits to be scheduled, which is what a p99 measures (2,000 lookups at load 10: 4–6 ms p99
through aiosqlite, 1–2 ms for the same statements run in place). So :class:`SqliteReader`
keeps one plain ``sqlite3`` connection, in autocommit and ``query_only`` mode, and runs the
prepared membership statement in place. Blocking the event loop for microseconds is cheaper
than yielding to it. In WAL mode (every file store is) a reader never waits for a writer; if
SQLite still answers busy (a checkpoint resetting the log), the lookup returns None and the
caller takes the asynchronous path, which waits.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine


class SqliteReader:
    """A read-only ``sqlite3`` connection to the engine's file, shared under a lock.

    Args:
        path: the database file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        # Opened on the first lookup, not with the repository: the file may not exist yet.
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only = 1")
        # Closed when the reader goes, so no connection is left for the garbage collector.
        weakref.finalize(self, conn.close)
        self._conn = conn
        return conn

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> SqliteReader | None:
        """A reader for a SQLite file engine; None for PostgreSQL or an in-memory database."""
        url = engine.url
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        if url.query.get("mode") == "memory":
            return None
        return cls(url.database)

    def first(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None | bool:
        """The statement's first row (None: no row), or False when SQLite was busy."""
        with self._lock:
            try:
                conn = self._conn or self._connect()
                row: tuple[Any, ...] | None = conn.execute(sql, params).fetchone()
                return row
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return False
                raise
