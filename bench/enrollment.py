"""Segment enrollment on the embedded stack: its history does not grow with the base.

For each base size (10k and 100k contacts by default) the bench imports that many contacts into
a fresh SQLite store, then runs the enrollment workflow for a segment every one of them is in,
on the Temporal dev server (the venv's ``temporal`` binary, on free ports, in a temporary
folder) with the real segment activities and router. It prints the time the enrollment took
and, read back from Temporal, every run of it (it continues as new between pages): how many
runs, the largest run's history in events and bytes, and the total. The bar is the largest
run's bytes at the biggest base against the smallest (at most 1.1x: counts grow a digit, nothing
else may). Not a test: nothing asserts.

The journeys are started on a task queue no worker polls, so the time is the enrollment's own
(segment pages, starts, the store), not the first step of a hundred thousand journeys; pass
``--run-journeys`` to have a worker run them too.

    python -m bench.enrollment [--sizes 10000 100000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from activities.segments import SegmentActivities
from journeys.segments import CATALOG
from store import Store
from store.importing import Importer
from tests.ports import free_ports
from tests.runs import run_histories, size
from tests.segments.journey_fixture import WaitingJourney as Enrolled
from worker.dev import TemporalDevServer
from worker.serve import connect_when_ready
from worker.settings import Settings
from workflows.enrollment import (
    ENROLLMENT,
    EnrollmentInput,
    EnrollmentProgress,
    SegmentEnrollment,
)
from workflows.routing import Router

BAR = 1.1
QUEUE = "bench-enrollment"
JOURNEY_QUEUE = "bench-enrolled-journeys"


def rows(prefix: str, n: int, joined: datetime) -> Iterator[tuple[int, dict[str, str]]]:
    """``n`` contacts who joined long ago and never clicked (so all are in the segment)."""
    for i in range(n):
        yield i + 2, {"userId": f"{prefix}{i:07d}", "createdAt": joined.date().isoformat()}


async def measure(
    client: Client, folder: Path, n: int, batch: int, history_events: int, run_journeys: bool
) -> dict:
    """Import ``n`` contacts, enrol them, and read the enrollment's histories back."""
    store = Store.from_url(f"sqlite+aiosqlite:///{folder / f'base-{n}.db'}")
    await store.migrate()
    now = datetime.now(UTC)
    await Importer(store.engine, batch_size=20_000).run(
        rows(f"b{n}-", n, now - timedelta(days=400)), now=now
    )
    router = Router(client, [Enrolled], QUEUE if run_journeys else JOURNEY_QUEUE)
    activities = SegmentActivities(store, CATALOG, router)
    wid = f"bench-enroll-{n}-{int(time.time())}"
    try:
        async with Worker(
            client,
            task_queue=QUEUE,
            workflows=[SegmentEnrollment, Enrolled],
            activities=activities.all(),
            max_concurrent_activities=4,
        ):
            started = time.perf_counter()
            done = await client.execute_workflow(
                ENROLLMENT,
                EnrollmentInput(
                    journey=Enrolled.spec.name,
                    segment="no_click_15d",
                    batch_size=batch,
                    refresh_scores=False,
                    history_events=history_events,
                ),
                id=wid,
                task_queue=QUEUE,
                result_type=EnrollmentProgress,
            )
            seconds = time.perf_counter() - started
    finally:
        await store.close()
    histories = await run_histories(client, wid)
    return {
        "base": n,
        "started": done.started,
        "seconds": seconds,
        "runs": len(histories),
        "max_events": max(len(h.events) for h in histories),
        "max_bytes": max(size(h) for h in histories),
        "total_bytes": sum(size(h) for h in histories),
    }


async def main(sizes: list[int], batch: int, history_events: int, run_journeys: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="sojourn-bench-") as tmp:
        folder = Path(tmp)
        temporal_port, ui_port = free_ports(2)
        settings = Settings(
            env="test", var_dir=folder, temporal_port=temporal_port, ui_port=ui_port
        )
        server = TemporalDevServer(settings)
        await server.start()
        try:
            client = await connect_when_ready(settings, timeout=120)
            results = [
                await measure(client, folder, n, batch, history_events, run_journeys) for n in sizes
            ]
        finally:
            with contextlib.suppress(Exception):
                await server.stop()
    print(
        f"enrollment, batch {batch}, continue-as-new past {history_events} events, "
        "Temporal dev server + SQLite"
    )
    print(
        f"{'base':>8} {'started':>8} {'time s':>8} {'/s':>7} {'runs':>5} "
        f"{'max events':>10} {'max bytes':>10} {'total bytes':>12}"
    )
    for r in results:
        print(
            f"{r['base']:>8} {r['started']:>8} {r['seconds']:>8.1f} "
            f"{r['started'] / r['seconds']:>7.0f} {r['runs']:>5} {r['max_events']:>10} "
            f"{r['max_bytes']:>10} {r['total_bytes']:>12}"
        )
    small, big = results[0], results[-1]
    ratio = big["max_bytes"] / small["max_bytes"]
    verdict = "met" if ratio <= BAR else "missed"
    print(
        f"ratio: largest run at {big['base']} / at {small['base']} = {ratio:.3f} "
        f"(bar ≤ {BAR}: {verdict}); base grew {big['base'] / small['base']:.0f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch", type=int, default=1000)
    # Low enough that the smallest base already spans several runs, so the ratio compares
    # full runs (production's default is 200 events, about 33 pages a run).
    parser.add_argument("--history-events", type=int, default=50)
    parser.add_argument("--run-journeys", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.batch, args.history_events, args.run_journeys))
