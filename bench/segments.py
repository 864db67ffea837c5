"""Segment benchmark: a deterministic synthetic base, then the seed rules on SQLite.

Prints, for the seed's example rules: whole-base evaluation time, one-contact lookup latency
(p50/p99), the import rate, and the ratio against a naive baseline measured in the same run
(stream every contact and its events into Python and evaluate the rule there).

    python -m bench.segments --small           # 10k contacts, 100k events (CI)
    python -m bench.segments --medium          # 100k contacts, 1M events
    python -m bench.segments                   # 1M contacts, 10M events (the design's bar)
    python -m bench.segments --contacts 200000 --import-only   # the import rate alone

Not a test: figures depend on the machine; run it by hand and copy them to the README.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from journeys.segments import CATALOG
from store import Store
from store.computed import recompute
from store.importing import Importer, read_rows
from store.segments import SegmentRepo
from store.segments.reference import Reference
from store.segments.rules import all_of, any_of, none_of, segment

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SEED = 42
# name, weight, property maker
EVENTS: list[tuple[str, float]] = [
    ("Email Delivered", 30),
    ("Email Opened", 22),
    ("Email Link Clicked", 7),
    ("Product Viewed", 20),
    ("Product Added", 8),
    ("Checkout Started", 4),
    ("Order Completed", 8),
    ("Unsubscribed", 1),
]
CATEGORIES = ("fashion", "sport", "home", "books")
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
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def write_contacts(path: Path, n: int, rng: random.Random) -> None:
    """A CSV of ``n`` contacts: email, names, country, signup date, plan, tags."""
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["userId", "email", "firstName", "country", "createdAt", "plan", "tags"])
        for i in range(n):
            signup = NOW - timedelta(days=rng.randint(0, 5 * 365))
            out.writerow(
                [
                    f"u{i:07d}",
                    f"user{i}@{rng.choice(('gmail.com', 'example.com', 'Shop.FR', 'mail.de'))}",
                    f"N{i}",
                    rng.choice(("FR", "DE", "US", "ES")),
                    signup.date().isoformat(),
                    rng.choice(("free", "pro", "team")),
                    rng.choice(("", "beta", "beta,vip")),
                ]
            )


def insert_events(db: Path, contacts: int, events: int, rng: random.Random) -> None:
    """``events`` events spread over the contacts and the last year, through raw sqlite3."""
    names = [name for name, _ in EVENTS]
    weights = [w for _, w in EVENTS]
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    batch: list[tuple[Any, ...]] = []
    base = NOW - timedelta(days=365)
    chosen = rng.choices(names, weights, k=events)
    for seq in range(events):
        # Skewed activity: a few contacts do most things, as in real bases.
        who = int(contacts * (rng.random() ** 2))
        name = chosen[seq]
        at = base + timedelta(seconds=rng.randint(0, 365 * 86400))
        if name == "Order Completed":
            props = f'{{"total": {rng.randint(5, 400)}}}'
        elif name in ("Product Viewed", "Product Added"):
            props = f'{{"category": "{rng.choice(CATEGORIES)}"}}'
        else:
            props = "{}"
        stamp = at.strftime(SQLITE_TIME)
        batch.append((f"e{seq}", f"u{who:07d}", "track", name, props, stamp, stamp, stamp))
        if len(batch) >= 100_000:
            conn.executemany(
                "INSERT INTO events (message_id, contact_id, type, name, properties, timestamp,"
                " received_at, routed_at) VALUES (?,?,?,?,?,?,?,?)",
                batch,
            )
            batch.clear()
    if batch:
        conn.executemany(
            "INSERT INTO events (message_id, contact_id, type, name, properties, timestamp,"
            " received_at, routed_at) VALUES (?,?,?,?,?,?,?,?)",
            batch,
        )
    conn.commit()
    conn.close()


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


async def main(
    contacts: int, events: int, folder: Path, skip_naive: bool, import_only: bool = False
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"segments-{contacts}-{events}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    rng = random.Random(SEED)
    store = Store.from_url(f"sqlite+aiosqlite:///{db}")
    await store.migrate()

    csv_path = folder / f"contacts-{contacts}.csv"
    write_contacts(csv_path, contacts, rng)
    t = time.perf_counter()
    report = await Importer(store.engine, batch_size=20_000).run(read_rows(csv_path), now=NOW)
    import_s = time.perf_counter() - t
    print(
        f"import: {report.accepted} contacts in {import_s:.2f} s "
        f"= {report.accepted / import_s:,.0f} contacts/s ({len(report.rejected)} rejected)"
    )
    if import_only:
        await store.close()
        return

    t = time.perf_counter()
    insert_events(db, contacts, events, rng)
    print(f"events: {events:,} generated and inserted in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    async with store.engine.begin() as conn:
        await conn.execute(recompute("sqlite"))
        await conn.exec_driver_sql("ANALYZE")
    print(f"computed fields recomputed + ANALYZE in {time.perf_counter() - t:.1f} s")

    repo = SegmentRepo(store.engine, CATALOG)
    sql_total = 0.0
    sizes = {}
    print("\nwhole base (SELECT count over the compiled rule; best of 3):")
    for name, rule in RULES.items():
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            sizes[name] = await repo.count(rule, now=NOW)
            runs.append(time.perf_counter() - t)
        sql_total += min(runs)
        print(f"  {name:<16} {sizes[name]:>9,} members  {min(runs) * 1000:8.1f} ms")

    print("\none contact (memberships(contact, [rule]), 2,000 random contacts):")
    pick = random.Random(SEED + 1)
    ids = [f"u{pick.randrange(contacts):07d}" for _ in range(2000)]
    for name in ("engaged_buyers", "vip", "no_click_15d", "cart_abandoners"):
        lat = []
        for cid in ids:
            t = time.perf_counter()
            await repo.memberships(cid, [name], now=NOW)
            lat.append(time.perf_counter() - t)
        print(
            f"  {name:<16} p50 {pct(lat, 0.5) * 1000:6.3f} ms   p99 {pct(lat, 0.99) * 1000:6.3f} ms"
        )
    await store.close()

    if skip_naive:
        return
    t = time.perf_counter()
    counts = naive(db, {n: r for n, r in RULES.items()})
    naive_s = time.perf_counter() - t
    assert counts == sizes, (counts, sizes)  # same answers, or the comparison means nothing
    print(
        f"\nnaive baseline (all {len(RULES)} rules in one Python pass): {naive_s:.1f} s; "
        f"SQL total {sql_total:.2f} s → SQL is {naive_s / sql_total:,.0f}× faster"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--small", action="store_true", help="10k contacts, 100k events")
    size.add_argument("--medium", action="store_true", help="100k contacts, 1M events")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--no-naive", action="store_true", help="skip the Python baseline")
    parser.add_argument("--import-only", action="store_true", help="stop after the import")
    args = parser.parse_args()
    if args.small:
        args.contacts, args.events = 10_000, 100_000
    elif args.medium:
        args.contacts, args.events = 100_000, 1_000_000
    asyncio.run(main(args.contacts, args.events, args.dir, args.no_naive, args.import_only))
