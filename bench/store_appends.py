"""The store's cost of appending behavioural events, grouped and one at a time.

``python -m bench.store_appends`` appends ``--events`` behavioural tracks (``Page Viewed``,
``Product Viewed`` of identified contacts, as the gateway's intake stores the 85 % of
``bench.ingest``'s mix no journey hears) to a fresh SQLite store in this process, twice per
run: from ``--writers`` concurrent writers, whose appends the group commit shares
(store/grouped.py), and from one writer, each append a group of its own (the baseline: what an
idle gateway does, one event's statements at a time). It prints the CPU this process spent per
event (user and system, all threads) and the events a second on each, median (min-max) of
``--runs`` alternating runs, and their ratio. No bar: the store's share of a gateway call,
measured without HTTP, uvicorn or the rest of the stack around it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench.figures import summary
from store import Store
from store.records import EventRecord

BEHAVIOURAL = ("Page Viewed", "Product Viewed")
CONTACTS = 500


def _event(rng: random.Random, n: int) -> EventRecord:
    now = datetime.now(UTC)
    return EventRecord(
        message_id=str(uuid.uuid4()),
        contact_id=f"bench-{rng.randrange(CONTACTS)}",
        name=rng.choice(BEHAVIOURAL),
        properties={"path": f"/products/{n % 40}"},
        timestamp=now,
        received_at=now,
    )


async def _append(store: Store, events: int, writers: int, seed: int) -> tuple[float, float]:
    """``(CPU seconds per event, events a second)`` for ``events`` appends from ``writers``."""
    rng = random.Random(seed)
    queue = [_event(rng, n) for n in range(events)]

    async def writer() -> None:
        while queue:
            record = queue.pop()
            await store.events.append_many([record], routed=[True])

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / events, events / wall


async def run(events: int, writers: int, runs: int) -> None:
    grouped: list[tuple[float, float]] = []
    alone: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="sojourn-appends-") as folder:
        store = Store.from_url(f"sqlite+aiosqlite:///{Path(folder) / 'store.db'}")
        await store.migrate()
        try:
            await _append(store, 200, writers, seed=0)  # warm: statements compiled, pool full
            for n in range(runs):
                # Alternating, so a drift of the machine touches both sides alike.
                sides = [(grouped, writers), (alone, 1)]
                for figures, count in sides if n % 2 == 0 else sides[::-1]:
                    figures.append(await _append(store, events, count, seed=n + 1))
        finally:
            await store.close()

    def show(figures: list[tuple[float, float]], index: int, scale: float) -> str:
        return summary([f[index] * scale for f in figures])

    print(
        f"{events} behavioural appends a run on SQLite; median (min-max) of {runs} alternating runs"
    )
    print(f"\n{'':26s}{'CPU an event, us':>28s}{'events a second':>26s}")
    print(f"{writers} concurrent writers   {show(grouped, 0, 1e6):>28s}{show(grouped, 1, 1):>26s}")
    print(f"one writer (groups of one) {show(alone, 0, 1e6):>26s}{show(alone, 1, 1):>26s}")
    ratios = [g[0] / a[0] for g, a in zip(grouped, alone, strict=True)]
    print(f"\nCPU an event, grouped / one at a time: {summary(ratios, 2).strip()}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000, help="appends per run and side")
    parser.add_argument("--writers", type=int, default=20, help="concurrent writers")
    parser.add_argument("--runs", type=int, default=3, help="alternating runs per side")
    args = parser.parse_args()
    asyncio.run(run(args.events, args.writers, args.runs))


if __name__ == "__main__":
    main()
