"""Ingest on loopback: a realistic event mix at a steady rate, then a burst of entries.

Starts ``sojourn dev`` (Temporal dev server, worker, gateway) in a temporary folder on free
ports, with a write key of its own (``SOJOURN_WRITE_KEYS``) that every call sends as HTTP Basic,
key as user name, the way Segment's SDKs do.

1. **Mix.** ``--contacts`` contacts are identified and a tenth of them signed up first, so their
   welcome journeys run. Then ``--rate`` tracks a second for ``--seconds`` seconds, paced on a
   fixed schedule (open loop) by ``--clients`` concurrent clients: about 85 % behavioural events
   no journey listens to (``Page Viewed``, ``Product Viewed``), 10 % events for the running
   journeys (``Email Opened``, ``Email Link Clicked``), 5 % entries (``Signed Up`` of contacts
   not yet in welcome). Prints the accepted rate, the non-2xx count, the gateway's answer time
   (client side, p50/p99) and the route lag, stored → signalled: the event row's ``routed_at``
   (written by the relay after Temporal accepted the signal) minus its ``received_at``, both the
   gateway's clock, read from the store after the run. Bars: 0 non-2xx, answer p99 ≤ 50 ms,
   route lag p99 ≤ 1 s over the events that are signalled (entries and the running journeys'
   events; the behavioural ones are stored as routed and shown apart, without a bar). Then the
   CPU the run cost: each process's user and system time (all threads, from ``/proc``) from
   the first call until the stack is idle again (the journeys the mix started have taken
   their first steps), per accepted call, and the cores the asked rate would take at that cost
   against the cores this machine has. A bar that CPU alone rules out on this machine shows
   there.
2. **Burst.** ``--burst`` fresh, identified contacts sign up as fast as ``--clients`` clients
   can send: journeys started per second, from the first POST to the last entry signalled
   (``routed_at``), against bare ``client.start_workflow`` calls per second on the same Temporal
   server from as many concurrent callers (a workflow type no worker runs), measured just before
   and just after. Bar: ≥ 0.85×. Then the CPU of a journey started (until the stack is idle
   again, so with its first steps in the worker) and of a bare start, process by process.

With ``--split`` the stack is the production shape instead (bench/split_stack.py): the Temporal
dev server, ``sojourn worker`` and ``sojourn gateway`` as three processes on PostgreSQL.

A missed bar is marked ``(over the bar)``. Not a test: nothing asserts.

    python -m bench.ingest [--small] [--split] [--seconds 60] [--rate 500]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import sqlalchemy as sa
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.cpu import CpuClock, per_call, report_cpu, spent
from bench.latency import Stack, embedded_stack, percentile
from bench.split_stack import split_stack
from store import Store
from store._sql import utc
from store.schema import events

BEHAVIOURAL = ("Page Viewed", "Product Viewed")
ENGAGEMENT = ("Email Opened", "Email Link Clicked")
ENTRY = "Signed Up"
SETTLE_WAIT = 120.0
BATCH = 100
BARE = "bench_ingest_bare"  # a workflow type no worker runs: start_workflow and nothing else


@dataclass
class Call:
    """One track call of the run."""

    contact: str
    event: str
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def body(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        if self.event in BEHAVIOURAL:
            properties = {"path": f"/p/{random.randrange(1000)}", "product_id": "sku-1"}
        return {
            "userId": self.contact,
            "event": self.event,
            "messageId": self.message_id,
            "properties": properties,
        }


@dataclass
class Answers:
    """What the gateway answered, call by call."""

    seconds: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # status 0: no answer, by kind
    first: float = 0.0
    last: float = 0.0

    @property
    def accepted(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def refused(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)


def _client(stack: Stack, key: str, clients: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.gateway,
        auth=httpx.BasicAuth(key, ""),
        timeout=30,
        limits=httpx.Limits(max_connections=clients, max_keepalive_connections=clients),
    )


async def _post(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    answer = await http.post(path, json=body)
    answer.raise_for_status()


async def identify(http: httpx.AsyncClient, contacts: Sequence[str]) -> None:
    """Give every contact an email address, in batches."""
    for start in range(0, len(contacts), BATCH):
        items = [
            {"type": "identify", "userId": c, "traits": {"email": f"{c}@example.com"}}
            for c in contacts[start : start + BATCH]
        ]
        await _post(http, "/v1/batch", {"batch": items})


async def sign_up(http: httpx.AsyncClient, contacts: Sequence[str]) -> list[str]:
    """Start welcome for these contacts, in batches; the events' message ids."""
    calls = [Call(c, ENTRY) for c in contacts]
    for start in range(0, len(calls), BATCH):
        items = [{"type": "track", **c.body()} for c in calls[start : start + BATCH]]
        await _post(http, "/v1/batch", {"batch": items})
    return [c.message_id for c in calls]


async def send(
    gateway: str, key: str, calls: Sequence[Call], clients: int, rate: float | None
) -> Answers:
    """POST every call from ``clients`` concurrent senders; on a fixed schedule at ``rate``
    calls a second (open loop: a slow answer does not slow the schedule), else flat out.

    The senders use aiohttp, not httpx: on two cores the load generator shares the CPU with
    what it measures, and httpx spent about 5 ms of client time a call (8.3 ms a track
    against 3.0 ms from a bare ``http.client`` loop on the same gateway), which both
    inflated the answer times and starved the gateway.
    """
    answers = Answers()
    loop = asyncio.get_running_loop()
    answers.first = loop.time() + 0.2
    order = itertools.count()
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        base_url=gateway,
        connector=connector,
        timeout=timeout,
        # Segment's scheme: the write key as the Basic user name, no password.
        headers={"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()},
    ) as http:

        async def sender() -> None:
            while (index := next(order)) < len(calls):
                if rate:
                    delay = answers.first + index / rate - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                began = time.perf_counter()
                try:
                    async with http.post("/v1/track", json=calls[index].body()) as answer:
                        await answer.read()
                        status = answer.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status = 0  # no answer at all counts as a refusal
                    kind = type(exc).__name__
                    answers.errors[kind] = answers.errors.get(kind, 0) + 1
                answers.seconds.append(time.perf_counter() - began)
                answers.statuses[status] = answers.statuses.get(status, 0) + 1
                answers.last = loop.time()

        await asyncio.gather(*(sender() for _ in range(clients)))
    return answers


async def routed_times(
    store: Store, message_ids: Sequence[str]
) -> dict[str, tuple[datetime, datetime | None]]:
    """``{message_id: (received_at, routed_at)}``, read from the store."""
    found: dict[str, tuple[datetime, datetime | None]] = {}
    async with store.engine.connect() as conn:
        for start in range(0, len(message_ids), 500):
            chunk = list(message_ids[start : start + 500])
            stmt = sa.select(events.c.message_id, events.c.received_at, events.c.routed_at).where(
                events.c.message_id.in_(chunk)
            )
            for message_id, received, routed in (await conn.execute(stmt)).all():
                found[message_id] = (utc(received), utc(routed))
    return found


async def settle(
    store: Store, message_ids: Sequence[str]
) -> dict[str, tuple[datetime, datetime | None]]:
    """Wait (bounded) until every one of these events was routed; their times."""
    deadline = time.monotonic() + SETTLE_WAIT
    while True:
        times = await routed_times(store, message_ids)
        done = all(routed is not None for _, routed in times.values())
        if (done and len(times) == len(message_ids)) or time.monotonic() > deadline:
            return times
        await asyncio.sleep(0.2)


def _ms(values: Sequence[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values] or [float("nan")]
    return {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "max": max(ms)}


def _verdict(ok: bool) -> str:
    return "(within the bar)" if ok else "(over the bar)"


# ---- 1. the mix ---------------------------------------------------------------------------------


def mix(contacts: Sequence[str], running: Sequence[str], total: int) -> list[Call]:
    """``total`` calls: 85 % behavioural, 10 % for running journeys, 5 % entries."""
    fresh = [c for c in contacts if c not in set(running)]
    random.shuffle(fresh)
    calls: list[Call] = []
    for _ in range(total):
        draw = random.random()
        if draw < 0.05 and fresh:
            calls.append(Call(fresh.pop(), ENTRY))
        elif draw < 0.15:
            calls.append(Call(random.choice(running), random.choice(ENGAGEMENT)))
        else:
            calls.append(Call(random.choice(contacts), random.choice(BEHAVIOURAL)))
    return calls


async def run_mix(stack: Stack, store: Store, key: str, args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:6]
    contacts = [f"mix-{run}-{n}" for n in range(args.contacts)]
    running = contacts[: max(1, args.contacts // 10)]
    async with _client(stack, key, args.clients) as http:
        await identify(http, contacts)
        await settle(store, await sign_up(http, running))
        calls = mix(contacts, running, int(args.rate * args.seconds))
        # The sign-ups' journeys first take their first steps, outside the mix's CPU.
        clock = CpuClock.of(stack)
        await clock.idle()
        before = clock.read()
        answers = await send(stack.gateway, key, calls, args.clients, args.rate)
    times = await settle(store, [c.message_id for c in calls])
    await clock.idle()
    after = clock.read()
    report_mix(args, calls, answers, times)
    report_cpu(spent(before, after), answers.accepted, args.rate)


def report_mix(
    args: argparse.Namespace,
    calls: Sequence[Call],
    answers: Answers,
    times: dict[str, tuple[datetime, datetime | None]],
) -> None:
    took = max(answers.last - answers.first, 1e-9)
    lags = {
        c.message_id: (routed - received).total_seconds()
        for c in calls
        if c.message_id in times
        for received, routed in [times[c.message_id]]
        if routed is not None
    }
    unrouted = len(calls) - len(lags)
    heard = [
        lags[c.message_id] for c in calls if c.event not in BEHAVIOURAL and c.message_id in lags
    ]
    answer, lag, lag_heard = _ms(answers.seconds), _ms(list(lags.values())), _ms(heard)
    entries = sum(c.event == ENTRY for c in calls)
    engaged = sum(c.event in ENGAGEMENT for c in calls)
    print(
        f"\n1. mix: {len(calls)} tracks at {args.rate:.0f}/s for {args.seconds:.0f} s from "
        f"{args.clients} clients over {args.contacts} contacts "
        f"({entries} entries, {engaged} for running journeys, the rest behavioural)\n"
    )
    print(f"accepted rate            {answers.accepted / took:9.1f} /s")
    print(
        f"non-2xx                  {answers.refused:9d}        bar 0        "
        f"{_verdict(answers.refused == 0)}   {dict(sorted(answers.statuses.items()))}"
    )
    if answers.errors:
        print(f"  no answer (client side)  {answers.errors}")
    print(f"{'milliseconds':25}{'p50':>9}{'p99':>9}{'max':>9}{'bar p99':>9}")
    # The route lag's bar is on the events that are signalled. Behavioural events no journey
    # listens to are stored as routed (lag about 0): counted in, they would hide the lag of
    # the 15 % that matter below a p99 that is really their p90. Shown apart, without a bar.
    rows: tuple[tuple[str, dict[str, float], float | None], ...] = (
        ("gateway answer", answer, 50.0),
        ("route lag, signalled", lag_heard, 1000.0),
        ("  all, never-routed too", lag, None),
    )
    for name, row, bar in rows:
        verdict = f"{bar:>9.0f}  {_verdict(row['p99'] <= bar)}" if bar is not None else ""
        print(f"{name:25}{row['p50']:>9.1f}{row['p99']:>9.1f}{row['max']:>9.1f}{verdict}")
    if unrouted:
        print(f"NOT ROUTED within {SETTLE_WAIT:.0f} s after the run: {unrouted} (over the bar)")


# ---- 2. the burst -------------------------------------------------------------------------------


async def bare_starts(client: Client, count: int, concurrency: int) -> float:
    """``start_workflow`` calls per second, ``concurrency`` in flight at a time."""
    queue = f"bench-ingest-bare-{uuid.uuid4().hex[:8]}"
    order = itertools.count()

    async def starter() -> None:
        while next(order) < count:
            await client.start_workflow(BARE, id=f"bare-{uuid.uuid4().hex}", task_queue=queue)

    began = time.perf_counter()
    await asyncio.gather(*(starter() for _ in range(concurrency)))
    return count / (time.perf_counter() - began)


async def run_burst(stack: Stack, store: Store, key: str, args: argparse.Namespace) -> None:
    client = await Client.connect(stack.temporal, data_converter=pydantic_data_converter)
    run = uuid.uuid4().hex[:6]
    contacts = [f"burst-{run}-{n}" for n in range(args.burst)]
    calls = [Call(c, ENTRY) for c in contacts]
    clock = CpuClock.of(stack)
    async with _client(stack, key, args.clients) as http:
        await identify(http, contacts)
        await clock.idle()
        at_bare = clock.read()
        before = await bare_starts(client, args.burst, args.clients)
        bare_cpu = spent(at_bare, clock.read())
        await clock.idle()
        at_burst = clock.read()
        began = datetime.now(UTC)
        answers = await send(stack.gateway, key, calls, args.clients, None)
        times = await settle(store, [c.message_id for c in calls])
        await clock.idle()  # the journeys' first steps, run by the worker, count too
        burst_cpu = spent(at_burst, clock.read())
        after = await bare_starts(client, args.burst, args.clients)
    routed = [r for _, r in times.values() if r is not None]
    took = (max(routed) - began).total_seconds() if routed else float("inf")
    ours = len(routed) / took
    baseline = (before + after) / 2
    ratio = ours / baseline
    print(
        f"\n2. burst: {args.burst} sign-ups of fresh contacts from {args.clients} clients, "
        f"flat out ({answers.refused} non-2xx)\n"
    )
    print(f"journeys started          {ours:9.1f} /s  ({len(routed)} in {took:.2f} s)")
    print(
        f"bare start_workflow calls {baseline:9.1f} /s  (before {before:.1f}, after {after:.1f}; "
        f"{args.clients} in flight)"
    )
    print(f"ratio                     {ratio:9.2f}x   bar 0.85x  {_verdict(ratio >= 0.85)}")
    print("\nCPU, ms (user + system, all threads)")
    print("  a journey started, until the stack was idle: " + per_call(burst_cpu, len(routed)))
    print("  a bare start_workflow call:                  " + per_call(bare_cpu, args.burst))


# ---- the run ------------------------------------------------------------------------------------


async def measure(stack: Stack, key: str, args: argparse.Namespace) -> None:
    store = Store.from_url(stack.database_url)
    try:
        await run_mix(stack, store, key, args)
        await run_burst(stack, store, key, args)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the mix")
    parser.add_argument("--rate", type=float, default=500.0, help="tracks a second in the mix")
    parser.add_argument("--clients", type=int, default=50, help="concurrent HTTP clients")
    parser.add_argument("--contacts", type=int, default=5000, help="contacts in the mix")
    parser.add_argument("--burst", type=int, default=1000, help="sign-ups in the burst")
    parser.add_argument(
        "--small", action="store_true", help="CI size: 10 s, 1,000 contacts, a burst of 200"
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="the production shape: sojourn gateway and sojourn worker apart, on PostgreSQL",
    )
    args = parser.parse_args()
    if args.small:
        args.seconds, args.contacts, args.burst = 10.0, 1000, 200
    key = f"bench-{secrets.token_hex(12)}"
    shape = split_stack if args.split else embedded_stack
    print(
        "stack: "
        + (
            "gateway, worker and Temporal as processes, PostgreSQL"
            if args.split
            else "sojourn dev (one process and Temporal), SQLite"
        )
    )
    with tempfile.TemporaryDirectory(prefix="sojourn-ingest-") as folder:
        with shape(Path(folder), {"SOJOURN_WRITE_KEYS": key}) as stack:
            try:
                asyncio.run(measure(stack, key, args))
            except Exception:
                print(f"sojourn dev log (tail):\n{stack.log_tail()}", file=sys.stderr)
                raise


if __name__ == "__main__":
    main()
