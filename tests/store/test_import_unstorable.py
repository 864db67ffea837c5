"""A contact import row the store cannot hold is rejected with its line and field; the rest import.

PostgreSQL cannot store U+0000 (SQLite can): unchecked, one such row failed its batch's
transaction there, and with it the import of every good row.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store import Store
from store.importing import Importer, read_rows, write_rejects

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NUL = "\x00"
REASON = "NUL character (U+0000)"


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "pooled"])
async def test_a_csv_row_with_a_nul_is_rejected_and_the_rest_imported(
    db: Store, tmp_path: Path, workers: int
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(
        "userId,email,firstName,plan\n"
        "n1,n1@example.com,Ada,pro\n"
        f"n2,n2@example.com,Bo{NUL}b,free\n"
        f"n3{NUL},n3@example.com,Cy,free\n"
        "n4,n4@example.com,Di,team\n",
        encoding="utf-8",
    )

    report = await Importer(db.engine, batch_size=10, workers=workers).run(read_rows(path), now=T0)

    assert (report.accepted, report.created) == (2, 2)
    assert [(r.line, r.field) for r in report.rejected] == [(3, "traits.firstName"), (4, "userId")]
    assert all(REASON in r.error for r in report.rejected)
    assert report.rejected[0].user_id == "n2"
    for contact, name in (("n1", "Ada"), ("n4", "Di")):
        stored = await db.contacts.get(contact)
        assert stored is not None and stored.first_name == name
    assert await db.contacts.get("n2") is None


async def test_jsonl_rows_with_a_nul_anywhere_are_rejected_naming_the_field(
    db: Store, tmp_path: Path
) -> None:
    rows = [
        {"userId": "j1", "traits": {"plan": "pro"}},
        {"userId": "j2", "traits": {"address": {"city": f"Ly{NUL}on"}}},
        {"userId": "j3", "traits": {f"pl{NUL}an": "free"}},
        {"userId": "j4", "tags": ["a", f"b{NUL}"]},
        {"userId": "j5", "traits": {"plan": "x"}, "timestamp": f"2025-01-01{NUL}"},
        {"userId": "j6", "country": "FR"},
    ]
    path = tmp_path / "contacts.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")

    report = await Importer(db.engine, workers=0).run(read_rows(path), now=T0)

    assert (report.accepted, report.created) == (2, 2)
    assert [(r.line, r.field) for r in report.rejected] == [
        (2, "traits.address.city"),
        (3, "traits"),
        (4, "traits.tags[1]"),
        (5, "timestamp"),
    ]
    assert "has a key" in report.rejected[1].error
    j6 = await db.contacts.get("j6")
    assert j6 is not None and j6.country == "FR"
    assert await db.contacts.get("j1") is not None

    rejects = tmp_path / "rejects.jsonl"
    write_rejects(rejects, report.rejected)
    first = json.loads(rejects.read_text().splitlines()[0])
    assert (first["line"], first["user_id"], first["field"]) == (2, "j2", "traits.address.city")
    assert NUL not in first["error"]  # the reason, never the value


async def test_jsonl_rows_no_backend_can_store_are_rejected_naming_the_field(
    db: Store, tmp_path: Path
) -> None:
    # Written as the JSON text a file holds: json.loads reads each (a lone surrogate escape,
    # NaN, 1e400 as Infinity, 200 levels of nesting), and none is storable text or JSON.
    deep = '{"a": ' * 200 + "1" + "}" * 200
    lines = [
        '{"userId": "s1", "traits": {"plan": "pro"}}',
        '{"userId": "s2", "traits": {"firstName": "Ada\\ud800"}}',
        '{"userId": "s3", "traits": {"score": NaN}}',
        '{"userId": "s4", "traits": {"score": 1e400}}',
        f'{{"userId": "s5", "traits": {{"nested": {deep}}}}}',
        '{"userId": "s6\\udfff", "traits": {"plan": "free"}}',
        '{"userId": "s7", "traits": {"k\\ud83d": "v"}}',
        '{"userId": "s8", "traits": {"score": 1' + "0" * 400 + "}}",
        '{"userId": "s9", "country": "FR"}',
    ]
    path = tmp_path / "contacts.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = await Importer(db.engine, workers=0).run(read_rows(path), now=T0)

    assert (report.accepted, report.created) == (2, 2)
    assert [(r.line, r.field.split(".")[0]) for r in report.rejected] == [
        (2, "traits"),
        (3, "traits"),
        (4, "traits"),
        (5, "traits"),
        (6, "userId"),
        (7, "traits"),
        (8, "traits"),
    ]
    assert report.rejected[0].field == "traits.firstName"
    assert "surrogate" in report.rejected[0].error
    assert "finite" in report.rejected[1].error and "finite" in report.rejected[2].error
    assert "levels deep" in report.rejected[3].error
    assert "finite" in report.rejected[6].error
    for user in ("s1", "s9"):
        assert await db.contacts.get(user) is not None
    rejects = tmp_path / "rejects.jsonl"
    write_rejects(rejects, report.rejected)  # the reasons are writable text
    assert len(rejects.read_text(encoding="utf-8").splitlines()) == 7


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "pooled"])
async def test_csv_rows_with_broken_quoting_are_rejected_by_line(
    db: Store, tmp_path: Path, workers: int
) -> None:
    # Read leniently, the unclosed quote made the rest of the file one cell: one contact with
    # a mangled id ('q5,q5@example.com\nq6,...'), the rows after it gone without a word.
    path = tmp_path / "contacts.csv"
    path.write_text(
        "userId,email\n"
        "q1,q1@example.com\n"
        'q2,"q2@example.com"x\n'
        "q3,q3@example.com\n"
        '"q4,q4@example.com\n'
        "q5,q5@example.com\n",
        encoding="utf-8",
    )

    report = await Importer(db.engine, batch_size=10, workers=workers).run(read_rows(path), now=T0)

    assert (report.accepted, report.created) == (2, 2)
    assert [(r.line, r.field) for r in report.rejected] == [(3, "line"), (5, "line")]
    assert report.rejected[0].error.startswith("not CSV")
    assert "never closed" in report.rejected[1].error
    for contact in ("q1", "q3"):
        assert await db.contacts.get(contact) is not None
    for contact in ("q2", "q4", "q5", '"q4', "q4,q4@example.com\nq5"):
        assert await db.contacts.get(contact) is None
