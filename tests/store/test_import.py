"""Bulk import: accepted and rejected rows, merge semantics, idempotent re-runs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from store import Store
from store.importing import Importer, ImportReport, read_rows, write_rejects
from store.importing.rows import parse_batch
from store.importing.writers import write_core
from store.schema import contacts

T0 = datetime(2026, 1, 1, tzinfo=UTC)

CSV = """userId,email,firstName,plan,age,tags,timestamp
u1,Ada@Example.COM,Ada,pro,36,"vip,beta",
u2,not-an-email,Bob,free,20,,
,x@example.com,Nobody,free,1,,
u3,c@example.com,Cy,team,true,,2025-01-01T00:00:00Z
"""


async def test_csv_import_accepts_rejects_and_reruns(db: Store, tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(CSV)
    importer = Importer(db.engine, batch_size=2)
    seen: list[int] = []
    report = await importer.run(read_rows(path), now=T0, progress=seen.append)
    assert (report.accepted, report.created, report.updated) == (2, 2, 0)
    assert [(r.line, r.field) for r in report.rejected] == [(3, "traits.email"), (4, "userId")]
    assert sum(seen) == 4

    u1 = await db.contacts.get("u1")
    assert u1 is not None
    assert (u1.email, u1.first_name, u1.tags) == ("Ada@example.com", "Ada", ["beta", "vip"])
    assert u1.traits["age"] == 36 and u1.traits["plan"] == "pro"
    u3 = await db.contacts.get("u3")
    assert (
        u3 is not None
        and u3.traits["age"] is True
        and u3.created_at == datetime(2025, 1, 1, tzinfo=UTC)
    )

    before = [(await db.contacts.get(c)).model_dump() for c in ("u1", "u3")]  # type: ignore[union-attr]
    again = await importer.run(read_rows(path), now=T0)
    assert (again.accepted, again.created, again.updated) == (2, 0, 2)
    after = [(await db.contacts.get(c)).model_dump() for c in ("u1", "u3")]  # type: ignore[union-attr]
    assert after == before

    rejects = tmp_path / "rejects.jsonl"
    write_rejects(rejects, report.rejected)
    lines = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert lines[0]["user_id"] == "u2" and lines[0]["field"] == "traits.email"


async def test_jsonl_import_merges_with_existing_profile(db: Store, tmp_path: Path) -> None:
    await db.contacts.identify("u1", {"plan": "pro", "city": "Lyon"}, T0)
    path = tmp_path / "contacts.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"userId": "u1", "traits": {"plan": "free"}, "timestamp": "2025-01-01"}),
                json.dumps({"userId": "u1", "country": "FR", "timestamp": "2026-02-01T00:00:00Z"}),
                "{not json",
                json.dumps({"userId": "u2", "traits": {"timezone": "Nowhere/Land"}}),
            ]
        )
    )
    report = await Importer(db.engine).run(read_rows(path), now=T0)
    assert (report.accepted, report.updated, report.created) == (2, 1, 0)
    assert [(r.line, r.field) for r in report.rejected] == [(3, "line"), (4, "traits.timezone")]
    u1 = await db.contacts.get("u1")
    assert u1 is not None
    assert u1.traits["plan"] == "pro"  # the 2025 row is older than the 2026 identify
    assert (u1.city, u1.country) == ("Lyon", "FR")


def _lines(n: int) -> list[str]:
    """CSV rows with repeats inside a batch, a bad email and a quoted multi-line trait."""
    rows = []
    for i in range(n):
        uid = f"u{i % (n - 3)}"  # the last three rows repeat the first three contacts
        email = "broken" if i == 5 else f"p{i}@Example.com"
        rows.append(f'{uid},{email},N{i},{i % 4},"a,b",2025-0{1 + i % 9}-01,"line\none"')
    return ["userId,email,firstName,score,tags,createdAt,note", *rows]


async def _dump(db: Store) -> list[tuple]:
    async with db.engine.connect() as conn:
        result = await conn.execute(sa.select(contacts).order_by(contacts.c.id))
        return [tuple(r) for r in result]


async def test_worker_processes_import_what_one_process_does(db: Store, tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("\n".join(_lines(40)) + "\n")
    await db.contacts.identify("u2", {"plan": "pro", "firstName": "Old"}, T0)
    inline = await Importer(db.engine, batch_size=7, workers=0).run(read_rows(path), now=T0)
    expected = await _dump(db)
    await _clear(db)
    await db.contacts.identify("u2", {"plan": "pro", "firstName": "Old"}, T0)
    pooled = await Importer(db.engine, batch_size=7, workers=2).run(read_rows(path), now=T0)
    assert await _dump(db) == expected
    assert pooled == inline
    assert (inline.accepted, inline.created, inline.rejected[0].line) == (39, 35, 7)
    u0 = await db.contacts.get("u0")
    assert u0 is not None and u0.first_name == "N37" and u0.traits["note"] == "line\none"

    again = await Importer(db.engine, batch_size=7, workers=2).run(read_rows(path), now=T0)
    assert (again.created, await _dump(db)) == (0, expected)


async def test_driver_rows_store_what_core_stores(db: Store, tmp_path: Path) -> None:
    # The import writes driver rows (executemany on SQLite, COPY on PostgreSQL); the Core
    # writer is the reference: same file, same merges, the same table.
    path = tmp_path / "contacts.csv"
    header, *rows = _lines(40)
    rows.append('u1,b@x.io,B,1,,2025-03-01,"x",1990-02-03')  # a repeat, a date column
    path.write_text("\n".join([header + ",birthday", *rows]) + "\n")
    await db.contacts.identify("u2", {"plan": "pro", "firstName": "Old"}, T0)
    await Importer(db.engine, batch_size=9, workers=0).run(read_rows(path), now=T0)
    expected = await _dump(db)
    await _clear(db)
    await db.contacts.identify("u2", {"plan": "pro", "firstName": "Old"}, T0)
    report = ImportReport()
    for chunk in read_rows(path).chunks(9):
        accepted, _ = parse_batch(chunk, T0, "core")
        await write_core(db.engine, accepted, report)
    assert await _dump(db) == expected
    u1 = await db.contacts.get("u1")
    assert u1 is not None and u1.birthday == date(1990, 2, 3)


async def _clear(db: Store) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(contacts.delete())


def test_read_rows_still_iterates_raw_rows(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(CSV)
    rows = list(read_rows(path))
    assert [line for line, _ in rows] == [2, 3, 4, 5]
    assert rows[0][1] == {
        "userId": "u1",
        "email": "Ada@Example.COM",
        "firstName": "Ada",
        "plan": "pro",
        "age": 36,
        "tags": "vip,beta",
    }
