"""Event-log appends on SQLite: inline on the loop against the async engine, in the same run.

Each side appends ``--events`` ``Page Viewed`` events (the row, the recent-event ladder and
the computed fields: five statements) to a fresh SQLite file, first one at a time (a request
at a time), then ``--concurrency`` at once (group commits). "Inline" is what the gateway does
(:mod:`store.inline_writes`: one :mod:`sqlite3` call per transaction); "async engine" runs the
same statements through aiosqlite, a thread round trip per statement, which is what every
append did before and what an append still does when another process holds the lock.

Prints the median (and p90) of the sequential appends and the concurrent rate, and the ratio of
the two sides. Not a test: nothing asserts.

    python -m bench.store_writes [--events 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from store import Store
from store.records import EventRecord

Append = Callable[[EventRecord], Awaitable[object]]


def _record(n: int) -> EventRecord:
    now = datetime.now(UTC)
    return EventRecord(
        message_id=uuid.uuid4().hex,
        contact_id=f"c-{n % 1000}",
        name="Page Viewed",
        properties={"path": f"/p/{n % 50}"},
        timestamp=now,
        received_at=now,
    )


def _async_engine_append(store: Store) -> Append:
    repo = store.events

    async def append(record: EventRecord) -> object:
        values = [repo._values(record, True)]
        async with store.engine.begin() as conn:
            return await conn.run_sync(repo._insert_all, values)

    return append


def _inline_append(store: Store) -> Append:
    return lambda record: store.events.append(record, routed=True)


async def _side(
    folder: Path, name: str, build: Callable[[Store], Append], args: argparse.Namespace
):
    store = Store.from_url(f"sqlite+aiosqlite:///{folder / name}.db")
    await store.migrate()
    append = build(store)
    try:
        for n in range(100):  # warm: compiled statements, the pool, the file
            await append(_record(n))
        times: list[float] = []
        for n in range(args.events):
            began = time.perf_counter()
            await append(_record(n))
            times.append((time.perf_counter() - began) * 1000)
        queue = iter(range(args.events))

        async def worker() -> None:
            for n in queue:
                await append(_record(n))

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        rate = args.events / (time.perf_counter() - began)
    finally:
        await store.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)], rate


async def measure(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="sojourn-writes-") as folder:
        base = await _side(Path(folder), "async", _async_engine_append, args)
        ours = await _side(Path(folder), "inline", _inline_append, args)
    print(f"{args.events} appends of Page Viewed on SQLite, then {args.concurrency} at once\n")
    print(f"{'':22}{'p50 ms':>9}{'p90 ms':>9}{'concurrent /s':>15}")
    for name, (p50, p90, rate) in (("async engine", base), ("inline", ours)):
        print(f"{name:22}{p50:>9.2f}{p90:>9.2f}{rate:>15.0f}")
    print(
        f"\ninline ÷ async engine: sequential p50 {ours[0] / base[0]:.2f}x, "
        f"concurrent rate {ours[2] / base[2]:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="appends per measure")
    parser.add_argument("--concurrency", type=int, default=50, help="appends in flight")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
