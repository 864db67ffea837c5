"""The import itself: batches read in file order, parsed (by worker processes for large
files) and written one transaction per batch, with progress reported after each.

Parsing and validation are per-row Python and were the import's bottleneck, so large files are
cut into batches that worker processes parse and validate while this process writes the
previous batches; the database work and its order stay in one process.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import now as utcnow
from store.importing.pool import start_pool
from store.importing.report import ImportReport, Rejected
from store.importing.rows import Row, parse_batch
from store.importing.sources import Chunk, Raw, RowSource, chunk_size
from store.importing.writers import write_core, write_driver

# Below this size a file is parsed in-process: worker processes would not pay for themselves.
POOL_MIN_BYTES = 4 << 20


class Importer:
    """Imports contacts in batches of ``batch_size`` rows, one transaction per batch.

    Args:
        engine: the store's engine.
        batch_size: rows per batch and transaction.
        workers: processes that parse and validate batches; ``0`` parses in-process, ``None``
            uses one per CPU for files of :data:`POOL_MIN_BYTES` or more.
    """

    def __init__(self, engine: AsyncEngine, batch_size: int = 5000, workers: int | None = None):
        self._engine = engine
        self.batch_size = batch_size
        self.workers = workers

    def _pool_size(self, rows: Iterable[Raw]) -> int:
        if self.workers is not None:
            return self.workers
        cpus = os.cpu_count() or 1
        if cpus < 2 or not isinstance(rows, RowSource):
            return 0
        return cpus if rows.path.stat().st_size >= POOL_MIN_BYTES else 0

    async def run(
        self,
        rows: Iterable[Raw],
        *,
        now: datetime | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import ``rows`` (from :func:`read_rows`); ``progress(n)`` after each batch of n."""
        report = ImportReport()
        at = now or utcnow()
        dialect = self._engine.dialect.name
        if isinstance(rows, RowSource):
            chunks: Iterator[Chunk] = rows.chunks(self.batch_size)
        else:
            pairs = iter(rows)
            chunks = iter(lambda: ("raw", list(islice(pairs, self.batch_size))), ("raw", []))
        workers = self._pool_size(rows)
        if not workers:
            for chunk in chunks:
                await self._commit(
                    parse_batch(chunk, at, dialect), chunk_size(chunk), report, progress
                )
            return report
        starting = asyncio.get_running_loop().run_in_executor(None, start_pool, workers)
        try:
            await self._pipeline(chunks, starting, workers, at, dialect, report, progress)
        finally:
            await asyncio.wait([starting])
            if starting.exception() is None:
                starting.result().shutdown(cancel_futures=True)
        return report

    async def _pipeline(
        self,
        chunks: Iterator[Chunk],
        starting: asyncio.Future[Executor],
        workers: int,
        at: datetime,
        dialect: str,
        report: ImportReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        # Batches are written in file order while the workers parse the next ones. Starting
        # the workers takes about a second: this process parses the first batches meanwhile.
        pending: deque[tuple[Future[Any], int]] = deque()
        pool: Executor | None = None
        for chunk in chunks:
            if pool is None and starting.done():
                pool = starting.result()
            if pool is None:
                await self._commit(
                    parse_batch(chunk, at, dialect), chunk_size(chunk), report, progress
                )
                continue
            pending.append((pool.submit(parse_batch, chunk, at, dialect), chunk_size(chunk)))
            while pending and (pending[0][0].done() or len(pending) > 2 * workers):
                future, size = pending.popleft()
                await self._commit(await asyncio.wrap_future(future), size, report, progress)
        while pending:
            future, size = pending.popleft()
            await self._commit(await asyncio.wrap_future(future), size, report, progress)

    async def _commit(
        self,
        parsed: tuple[list[Any], list[Rejected]],
        size: int,
        report: ImportReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        accepted, rejected = parsed
        report.rejected.extend(rejected)
        if accepted:
            started = time.perf_counter()
            if isinstance(accepted[0], Row):
                await write_core(self._engine, accepted, report)
            else:
                await write_driver(self._engine, accepted, report)
            report.write_seconds += time.perf_counter() - started
        if progress and size:
            progress(size)
