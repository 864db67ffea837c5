"""Bulk import: accepted and rejected rows, merge semantics, idempotent re-runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from store import Store
from store.importer import Importer, read_rows, write_rejects

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
