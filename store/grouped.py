"""Group commit: small writes from concurrent callers share one transaction.

SQLite has one writer at a time. Without this, every request and every relay lane opens a
transaction of its own and the losers of the race for the write lock sleep in SQLite's busy
handler (1, 2, 5 … 100 ms a try, no queue, no fairness): under load that is where seconds of
answer time went. A :class:`GroupCommit` queues the writes in the process instead and one task
commits whatever is waiting, in arrival order, in one transaction, so the database sees one
writer per engine and each caller still returns only after its own write is durable. Nothing
waits on purpose: an idle queue commits at once, a busy one batches what arrived meanwhile.

A failing write fails only its own caller: when a group's transaction fails, its writes are
retried one transaction each and every caller gets its own outcome.

Where the writes of a group can share statements too (one ``executemany`` for many rows,
rather than SQLAlchemy's per-statement cost each), ``apply_many`` writes the whole group and
``apply`` remains for the one-by-one retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")
R = TypeVar("R")

GROUP_MAX = 256  # writes per transaction: bounds how long one commit holds the lock


class GroupCommit(Generic[T, R]):
    """Commits ``apply(conn, item)`` for queued items, a group per transaction.

    Args:
        engine: the engine to write with.
        apply: the write for one item, run inside the group's transaction.
        group_max: the most items one transaction takes.
        apply_many: the writes for a whole group, in order, with the same outcome per item as
            ``apply`` on each in turn (the default does just that).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        apply: Callable[[AsyncConnection, T], Awaitable[R]],
        group_max: int = GROUP_MAX,
        apply_many: Callable[[AsyncConnection, list[T]], Awaitable[list[R]]] | None = None,
    ) -> None:
        self._engine = engine
        self._apply = apply
        self._apply_many = apply_many
        self._group_max = group_max
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Write ``item``; returns once its transaction committed."""
        [result] = await self.submit_many([item])
        return result

    async def submit_many(self, items: Iterable[T]) -> list[R]:
        """Write ``items`` in this order (queued together, so usually one transaction)."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[R]] = []
        for item in items:
            future: asyncio.Future[R] = loop.create_future()
            self._waiting.append((item, future))
            futures.append(future)
        drainer = self._drainer
        # A drainer of another (closed) event loop will never run again: start one here.
        if futures and (drainer is None or drainer.done() or drainer.get_loop() is not loop):
            self._drainer = loop.create_task(self._drain(), name="sojourn-group-commit")
        # Shielded: a caller that gives up (a client hung up) does not take the write with it;
        # it is committed anyway, like a request whose answer never arrived.
        return list(await asyncio.shield(asyncio.gather(*futures)))

    async def _lock(self, conn: AsyncConnection) -> None:
        # Take SQLite's write lock before the first statement: a write may read first (an
        # event checks its contact's presence), and a deferred transaction that read and then
        # meets another process's commit cannot write at all (SQLITE_BUSY_SNAPSHOT).
        if self._engine.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[: self._group_max]
                del self._waiting[: self._group_max]
                await self._commit(group)
        except BaseException as exc:  # cancelled (loop shutting down): nobody may hang
            for _, future in self._waiting:
                _settle(future, exc=exc if isinstance(exc, Exception) else RuntimeError(exc))
            self._waiting.clear()
            raise

    async def _commit(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            async with self._engine.begin() as conn:
                await self._lock(conn)
                items = [item for item, _ in group]
                if self._apply_many is not None:
                    results = await self._apply_many(conn, items)
                else:
                    results = [await self._apply(conn, item) for item in items]
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0][1], exc=exc)
                return
            for item, future in group:  # one bad write must not fail its neighbours
                try:
                    async with self._engine.begin() as conn:
                        await self._lock(conn)
                        result = await self._apply(conn, item)
                except Exception as one:
                    _settle(future, exc=one)
                else:
                    _settle(future, result)
            return
        except BaseException as exc:
            for _, future in group:
                _settle(future, exc=RuntimeError(f"write abandoned: {exc!r}"))
            raise
        for (_, future), result in zip(group, results, strict=True):
            _settle(future, result)


def _settle(
    future: asyncio.Future[R], result: R | None = None, *, exc: Exception | None = None
) -> None:
    if future.done() or future.get_loop().is_closed():  # nobody can be waiting on it
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]
