"""Segment benchmark: a deterministic synthetic base, then the seed rules, on SQLite or PostgreSQL.

Prints the import rate (through the importer ``sojourn contacts import`` uses), how long the
events took to generate, then for the seed's example rules the whole-base evaluation time and
one contact's membership latency (p50/p99), as min / median / max over ``--runs`` runs, each
against its bar (a missed bar says ``(over the bar)``). On SQLite it also times a naive baseline
in the same run (stream every contact and its events into Python, evaluate the rules there) and
checks that it finds the same members.

    python -m bench.segments --small             # 10k contacts, 100k events (quick)
    python -m bench.segments --medium            # 100k contacts, 1M events
    python -m bench.segments                     # 1M contacts, 10M events (the bars)
    python -m bench.segments --postgres          # the same on PostgreSQL (127.0.0.1:5432, db test)
    python -m bench.segments --contacts 200000 --import-only   # the import rate alone

PostgreSQL runs in a schema of its own (``bench_segments``) in database ``test``, dropped at the
end. Not a test: figures depend on the machine; run it by hand and copy them to the README.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.segdata import NOW, load_events, write_contacts
from journeys.segments import CATALOG
from store import Store
from store.computed import recompute
from store.db import create_engine
from store.importing import Importer, read_rows
from store.segments import SegmentRepo, ladder
from store.segments.reference import Reference
from store.segments.rules import all_of, any_of, none_of, segment

SEED = 42
PG = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_segments"
RULES = {
    "engaged_buyers": segment("engaged_buyers"),
    "vip": segment("vip"),
    "no_click_15d": segment("no_click_15d"),
    "cart_abandoners": segment("cart_abandoners"),
    "nested": any_of(
        segment("vip"),
        all_of(segment("engaged_buyers"), none_of(segment("cart_abandoners"))),
        all_of(segment("no_click_15d"), segment("cart_abandoners")),
    ),
}
# The bars (ms): every seed rule 500, the nested rule 1,000; one contact p50/p99.
BARS = {name: 1000.0 if name == "nested" else 500.0 for name in RULES}
ONE_P50, ONE_P99 = 0.5, 2.0
IMPORT_BAR = 50_000


def naive(db: Path, rules: dict[str, Any]) -> dict[str, int]:
    """The baseline: stream contacts and their events into Python, evaluate each rule there."""
    reference = Reference(NOW, CATALOG)
    conn = sqlite3.connect(db)
    parse = datetime.fromisoformat
    counts = dict.fromkeys(rules, 0)
    ev = conn.execute(
        "SELECT contact_id, name, properties, timestamp FROM events ORDER BY contact_id"
    )
    pending = next(ev, None)
    for cid, created, signup, spent in conn.execute(
        "SELECT id, created_at, signup_at, total_spent FROM contacts ORDER BY id"
    ):
        mine = []
        while pending is not None and pending[0] <= cid:
            if pending[0] == cid:
                mine.append(
                    {
                        "name": pending[1],
                        "properties": json.loads(pending[2]),
                        "timestamp": parse(pending[3]).replace(tzinfo=UTC),
                    }
                )
            pending = next(ev, None)
        contact = {
            "id": cid,
            "created_at": parse(created).replace(tzinfo=UTC),
            "signup_at": parse(signup).replace(tzinfo=UTC) if signup else None,
            "total_spent": spent,
        }
        for name, rule in rules.items():
            counts[name] += reference.holds(rule, contact, mine)
    conn.close()
    return counts


def pct(values: list[float], q: float) -> float:
    """The q-quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spread(values: list[float], bar: float | None = None, unit: str = "ms") -> str:
    """``median (min–max) unit``, flagged when the median misses ``bar``."""
    med = statistics.median(values)
    text = f"{med:8.3f} ({min(values):.3f}–{max(values):.3f}) {unit}"
    if bar is not None:
        text += f"  bar {bar:g} {unit}" + ("  (over the bar)" if med > bar else "")
    return text


async def open_store(postgres: bool, db: Path, reuse: bool = False) -> Store:
    """A fresh, migrated store: a new SQLite file, or a new schema in PostgreSQL's ``test``."""
    if not postgres:
        for suffix in ("", "-wal", "-shm"):
            if not reuse:
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        store = Store.from_url(f"sqlite+aiosqlite:///{db}")
    else:
        if not reuse:
            await drop_schema()
        admin = await asyncpg.connect(PG)
        await admin.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        await admin.close()
        engine = create_engine(
            PG.replace("postgresql://", "postgresql+asyncpg://"),
            connect_args={"server_settings": {"search_path": SCHEMA}},
        )
        store = Store(engine)
    await store.migrate()
    return store


async def drop_schema() -> None:
    admin = await asyncpg.connect(PG)
    await admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    await admin.close()


def out(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201 - a benchmark reports on stdout


async def main(args: argparse.Namespace) -> None:
    folder: Path = args.dir
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"segments-{args.contacts}-{args.events}.db"
    store = await open_store(args.postgres, db, args.reuse)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    out(f"{backend}, {args.contacts:,} contacts, {args.events:,} events; uptime: {uptime()}")
    try:
        await run(store, args, db)
    finally:
        await store.close()
        if args.postgres and not args.keep:
            await drop_schema()


def uptime() -> str:
    return " ".join(os.popen("uptime").read().split()[-5:])


async def generate(store: Store, args: argparse.Namespace) -> bool:
    """Import the contacts (timed: the README's import figure), then generate the events."""
    csv_path = args.dir / f"contacts-{args.contacts}.csv"
    write_contacts(csv_path, args.contacts, SEED)
    t = time.perf_counter()
    # The importer as `sojourn contacts import` runs it (its default batch of 5,000 rows).
    report = await Importer(store.engine).run(read_rows(csv_path), now=NOW)
    import_s = time.perf_counter() - t
    rate = report.accepted / import_s
    flag = "" if rate >= IMPORT_BAR else "  (under the bar)"
    out(
        f"import: {report.accepted:,} contacts in {import_s:.2f} s = {rate:,.0f} contacts/s"
        f" (bar {IMPORT_BAR:,}/s){flag}; {len(report.rejected)} rejected; of which writing"
        f" {report.write_seconds:.2f} s = {report.accepted / report.write_seconds:,.0f}/s"
    )
    if args.import_only:
        return False
    t = time.perf_counter()
    async with store.engine.begin() as conn:
        await load_events(conn, args.contacts, args.events)
    out(f"events: {args.events:,} generated, inserted, indexed in {time.perf_counter() - t:.1f} s")
    return True


async def derive(store: Store, postgres: bool) -> None:
    """Computed fields and the ladder rebuilt in bulk, then the planner's statistics."""
    t = time.perf_counter()
    async with store.engine.begin() as conn:
        await conn.execute(recompute(store.engine.dialect.name))
        for stmt in ladder.backfill():
            await conn.execute(stmt)
    async with store.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        # A bulk load leaves PostgreSQL's visibility map unset: without VACUUM no index-only
        # scan (autovacuum would get there; a restore runs it).
        await conn.exec_driver_sql("VACUUM ANALYZE" if postgres else "ANALYZE")
    out(f"computed fields, event ladder, (VACUUM) ANALYZE: {time.perf_counter() - t:.1f} s")


async def run(store: Store, args: argparse.Namespace, db: Path) -> None:
    if not args.reuse:
        if not await generate(store, args):
            return
        await derive(store, args.postgres)
    # else: a base an earlier run built (--keep, or the SQLite file), derived tables included

    repo = SegmentRepo(store.engine, CATALOG)
    sizes: dict[str, int] = {}
    medians = 0.0
    out(f"\nwhole base (count over the compiled rule; median (min–max) of {args.runs} runs):")
    for name, rule in RULES.items():
        runs = []
        for _ in range(args.runs):
            t = time.perf_counter()
            sizes[name] = await repo.count(rule, now=NOW)
            runs.append((time.perf_counter() - t) * 1000)
        medians += statistics.median(runs)
        out(f"  {name:<16} {sizes[name]:>9,} members  {spread(runs, BARS[name])}")

    out(f"\none contact (memberships(contact, [rule]), 2,000 random contacts, {args.runs} runs):")
    pick = random.Random(SEED + 1)
    ids = [f"u{pick.randrange(args.contacts):07d}" for _ in range(2000)]
    for name in ("engaged_buyers", "vip", "no_click_15d", "cart_abandoners"):
        p50s, p99s = [], []
        for _ in range(args.runs):
            lat = []
            for cid in ids:
                t = time.perf_counter()
                await repo.memberships(cid, [name], now=NOW)
                lat.append((time.perf_counter() - t) * 1000)
            p50s.append(pct(lat, 0.5))
            p99s.append(pct(lat, 0.99))
        out(f"  {name:<16} p50 {spread(p50s, ONE_P50)}")
        out(f"  {'':<16} p99 {spread(p99s, ONE_P99)}")
    out(f"\nuptime after: {uptime()}")
    if args.no_naive or args.postgres:
        return
    t = time.perf_counter()
    counts = naive(db, dict(RULES))
    naive_s = time.perf_counter() - t
    assert counts == sizes, (counts, sizes)  # same answers, or the comparison means nothing
    out(
        f"naive baseline (all {len(RULES)} rules in one Python pass): {naive_s:.1f} s;"
        f" SQL medians total {medians / 1000:.2f} s → SQL is {naive_s * 1000 / medians:,.0f}×"
        " faster, same members"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--small", action="store_true", help="10k contacts, 100k events")
    size.add_argument("--medium", action="store_true", help="100k contacts, 1M events")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (at least 3)")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL at 127.0.0.1:5432")
    parser.add_argument("--dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--no-naive", action="store_true", help="skip the Python baseline")
    parser.add_argument("--reuse", action="store_true", help="measure a base kept before")
    parser.add_argument("--keep", action="store_true", help="leave the PostgreSQL schema")
    parser.add_argument("--import-only", action="store_true", help="stop after the import")
    args = parser.parse_args()
    if args.small:
        args.contacts, args.events = 10_000, 100_000
    elif args.medium:
        args.contacts, args.events = 100_000, 1_000_000
    asyncio.run(main(args))
