"""Engine creation, migrations and the ``Store`` facade over the repositories."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from store import sqlite_inline
from store.catalog import CatalogRepo
from store.consent import ConsentRepo
from store.contacts import ContactRepo
from store.events import EventRepo
from store.experiments import ExperimentRepo
from store.identities import IdentityRepo
from store.messages import MessageRepo
from store.outcomes import OutcomeReads
from store.presence import PresenceRepo
from store.push_subscriptions import PushSubscriptionRepo

MIGRATIONS = Path(__file__).parent / "migrations"
# Connections each process keeps open to PostgreSQL, and how many more it may open at a peak:
# a gateway and a worker stay within PostgreSQL's default 100 with room for the CLI.
PG_POOL_SIZE = 20
PG_MAX_OVERFLOW = 10


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine for ``url``; SQLite files get their folder, WAL and a busy timeout.

    ``options`` go to SQLAlchemy (e.g. ``poolclass``).
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = dict(options)
    inline = False
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Gateway, worker and CLI share the file: wait on locks instead of failing.
        kwargs["connect_args"] = {"timeout": 30}
        if parsed.get_driver_name() == "aiosqlite":
            # The same dialect, its calls run inline instead of on aiosqlite's threads.
            inline = "module" not in kwargs
            kwargs.setdefault("module", sqlite_inline.dbapi())
    if parsed.get_backend_name() == "postgresql" and "poolclass" not in kwargs:
        # SQLAlchemy's default keeps 5 connections and closes every one above that when it is
        # returned: under a gateway's or worker's concurrency most calls then opened a new
        # PostgreSQL connection (a backend process forked, TLS asked for), 13 % of the
        # gateway's CPU on a burst. Keep enough for the usual concurrency, a few more at peaks.
        kwargs.setdefault("pool_size", PG_POOL_SIZE)
        kwargs.setdefault("max_overflow", PG_MAX_OVERFLOW)
    engine = create_async_engine(url, **kwargs)
    if inline:
        # Connections that close in place (no task and shield per ``async with``).
        engine = sqlite_inline.inline_engine(engine)
    if parsed.get_backend_name() == "sqlite":

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def _alembic_config(connection: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def _upgrade(conn: AsyncConnection) -> None:
    await conn.run_sync(lambda sync_conn: command.upgrade(_alembic_config(sync_conn), "heads"))


class Store:
    """The contact store: one engine, one repository per concern.

    Args:
        engine: an async engine, usually from :func:`create_engine`.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.contacts = ContactRepo(engine)
        self.presence = PresenceRepo(engine)
        self.events = EventRepo(engine, self.presence)
        self.consent = ConsentRepo(engine)
        self.messages = MessageRepo(engine)
        self.identities = IdentityRepo(engine)
        self.catalog = CatalogRepo(engine)
        self.experiments = ExperimentRepo(engine)
        self.outcomes = OutcomeReads(engine)
        self.push = PushSubscriptionRepo(engine)

    @classmethod
    def from_url(cls, url: str) -> Store:
        """A store on a new engine for ``url``."""
        return cls(create_engine(url))

    # One process migrates at a time; the lock keeps concurrent callers in one process orderly.
    # "heads": independent features (segments, messaging) migrate on branches of their own.
    _migrate_lock = asyncio.Lock()

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        async with self._migrate_lock, self.engine.begin() as conn:
            await _upgrade(conn)

    async def close(self) -> None:
        """Dispose of the engine's connections."""
        await self.engine.dispose()
