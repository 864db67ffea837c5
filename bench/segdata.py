"""The segment benchmark's synthetic base, generated fast and identically on both databases.

Contacts go through the importer (the path ``sojourn contacts import`` uses), so the benchmark
measures the import rate the README quotes. Events are generated *inside* the database by one
``INSERT … SELECT`` over a row generator (a recursive CTE on SQLite, ``generate_series`` on
PostgreSQL): no Python per row, no driver round trips. Randomness comes from an integer hash of
the row number (``x² + c mod 2³¹−1``, twice), which both databases compute exactly alike, so
SQLite and PostgreSQL hold the same ten million events. The events table's secondary indexes
are dropped during the load and rebuilt afterwards (a sorted build instead of ten million
random B-tree inserts), then computed fields and daily aggregates are rebuilt in bulk, the way a
restore would.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from store.schema import events

NOW = datetime(2026, 6, 1, tzinfo=UTC)
START = NOW - timedelta(days=365)
MOD = 2_147_483_647  # 2^31 - 1: squares stay below 2^62, exact in both databases' integers
# name, weight (percent): what a mailing-heavy shop's event log looks like.
EVENTS: list[tuple[str, int]] = [
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
YEAR_S = 365 * 86400


def write_contacts(path: Path, n: int, seed: int) -> None:
    """A CSV of ``n`` contacts: email, names, country, signup date, plan, tags."""
    rng = random.Random(seed)
    choice, randint = rng.choice, rng.randint
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["userId", "email", "firstName", "country", "createdAt", "plan", "tags"])
        for i in range(n):
            signup = NOW - timedelta(days=randint(0, 5 * 365))
            out.writerow(
                [
                    f"u{i:07d}",
                    f"user{i}@{choice(('gmail.com', 'example.com', 'Shop.FR', 'mail.de'))}",
                    f"N{i}",
                    choice(("FR", "DE", "US", "ES")),
                    signup.date().isoformat(),
                    choice(("free", "pro", "team")),
                    choice(("", "beta", "beta,vip")),
                ]
            )


def _hash(col: str, salt: int) -> str:
    """SQL for a pseudo-random integer in [0, MOD) from ``col`` (two rounds of x² + c)."""
    x = f"(({col} * 7919 + {salt * 104729 + 12345}) % {MOD})"
    x = f"(({x} * {x} + {salt * 31 + 1013904223}) % {MOD})"
    return f"(({x} * {x} + {salt * 17 + 907}) % {MOD})"


def _name_case() -> str:
    cases, upto = [], 0
    for name, weight in EVENTS:
        upto += weight
        cases.append(f"WHEN r2 < {upto} THEN '{name}'")
    return "CASE " + " ".join(cases) + " END"


def events_sql(dialect: str, contacts: int, total: int) -> str:
    """``INSERT INTO events … SELECT`` generating ``total`` events over ``contacts`` contacts.

    Activity is skewed (contact = N·u², u uniform): a few contacts do most things, as in real
    bases. Timestamps spread over the year before :data:`NOW`.
    """
    start = int(START.timestamp())
    pg = dialect == "postgresql"
    if pg:
        source = f"generate_series(0::bigint, {total - 1}) AS g(n)"
        mid, cid = "'e' || lpad(n::text, 8, '0')", "'u' || lpad(who::text, 7, '0')"
        stamp = f"to_timestamp({start} + r3)"
        props = "props::json"
        head = ""
    else:
        head = (
            "WITH RECURSIVE g(n) AS"
            f" (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < {total - 1}) "
        )
        source = "g"
        mid, cid = "printf('e%08d', n)", "printf('u%07d', who)"
        stamp = f"strftime('%Y-%m-%d %H:%M:%S', {start} + r3, 'unixepoch') || '.000000'"
        props = "props"
    cats = " ".join(f"WHEN {i} THEN '{c}'" for i, c in enumerate(CATEGORIES))
    shaped = (
        f"SELECT n, {contacts} * (r1 / 65536) * (r1 / 65536) / 1073741824 AS who,"
        f" {_name_case()} AS name, r3, r4 FROM ("
        f"SELECT n, {_hash('n', 1)} AS r1, {_hash('n', 2)} % 100 AS r2,"
        f" {_hash('n', 3)} % {YEAR_S} AS r3, {_hash('n', 4)} AS r4 FROM {source}) AS raw"
    )
    with_props = (
        "SELECT n, who, name, r3, CASE"
        " WHEN name = 'Order Completed' THEN '{\"total\": ' || (5 + r4 % 396) || '}'"
        " WHEN name IN ('Product Viewed', 'Product Added')"
        f" THEN '{{\"category\": \"' || CASE r4 % 4 {cats} END || '\"}}'"
        f" ELSE '{{}}' END AS props FROM ({shaped}) AS s"
    )
    return (
        f"{head}INSERT INTO events (message_id, contact_id, type, name, properties, timestamp,"
        f" received_at, routed_at) SELECT {mid}, {cid}, 'track', name, {props}, {stamp},"
        f" {stamp}, {stamp} FROM ({with_props}) AS e"
    )


async def load_events(conn: AsyncConnection, contacts: int, total: int) -> None:
    """Generate the events with the secondary indexes dropped, then rebuild the indexes."""
    dialect = conn.dialect.name
    for index in events.indexes:
        await conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
    await conn.exec_driver_sql(events_sql(dialect, contacts, total))
    for index in events.indexes:
        await conn.run_sync(lambda sync, i=index: i.create(sync))
