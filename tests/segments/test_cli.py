"""The ``contacts`` and ``segments`` sub-commands, end to end on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from worker.cli_common import count_records
from worker.cli_contacts import contacts_app
from worker.cli_segments import segments_app

runner = CliRunner()


@pytest.fixture
def db_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOJOURN_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def test_import_show_and_segments(db_env: Path) -> None:
    path = db_env / "people.jsonl"
    path.write_text(
        json.dumps({"userId": "u1", "traits": {"email": "A@X.IO", "createdAt": "2020-01-01"}})
        + "\n"
        + json.dumps({"userId": "u2", "traits": {"email": "nope"}})
        + "\n"
    )
    result = runner.invoke(contacts_app, ["import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "accepted": 1,
        "created": 1,
        "updated": 0,
        "rejected": 1,
        "rejects_file": str(path) + ".rejected.jsonl",
    }
    reasons = Path(str(path) + ".rejected.jsonl").read_text()
    assert '"field": "traits.email"' in reasons

    again = runner.invoke(contacts_app, ["import", str(path)])
    assert again.exit_code == 0, again.output
    assert "accepted 1 (0 new, 1 updated), rejected 1" in again.stdout

    shown = runner.invoke(contacts_app, ["show", "u1", "--json"])
    assert shown.exit_code == 0, shown.output
    profile = json.loads(shown.stdout)
    assert profile["email"] == "A@x.io"
    assert "no_click_15d" in profile["segments"] and profile["lead_score"] == 0
    human = runner.invoke(contacts_app, ["show", "u1"])
    assert "segments:" in human.stdout and "lead score: 0" in human.stdout
    assert runner.invoke(contacts_app, ["show", "ghost"]).exit_code == 1

    listed = runner.invoke(segments_app, ["list", "--json"])
    sizes = {row["name"]: row["size"] for row in json.loads(listed.stdout)}
    assert sizes["no_click_15d"] == 1 and sizes["vip"] == 0

    one = runner.invoke(segments_app, ["show", "no_click_15d", "--sql"])
    assert one.exit_code == 0, one.output
    assert "no_click_15d: 1 contacts" in one.stdout and "NOT IN" in one.stdout
    assert runner.invoke(segments_app, ["show", "nope"]).exit_code == 2
    assert "scored 0" in runner.invoke(segments_app, ["refresh"]).stdout


def test_import_rejects_a_wrongly_typed_trait_by_row(db_env: Path) -> None:
    path = db_env / "typed.jsonl"
    rows = [
        {"userId": "t1", "email": "t1@x.io"},
        {"userId": "t2", "email": "t2@x.io", "phone": {"x": 1}},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(contacts_app, ["import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rejected"] == 1
    assert '"field": "traits.phone"' in Path(str(path) + ".rejected.jsonl").read_text()


def test_import_of_a_file_that_is_not_utf8_says_what_to_do(db_env: Path) -> None:
    path = db_env / "latin1.csv"
    path.write_bytes("userId,email\nx1,café@x.io\n".encode("latin-1"))
    result = runner.invoke(contacts_app, ["import", str(path)])
    assert result.exit_code == 1
    assert "not UTF-8" in result.stderr and "save it as UTF-8" in result.stderr


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("missing/r.jsonl", "there is no folder"),
        (".", "is a folder"),
        ("people.csv", "is the file being read"),
    ],
)
def test_import_refuses_a_rejects_path_it_cannot_write_before_importing(
    db_env: Path, where: str, says: str
) -> None:
    # Once the good rows were stored, a rejects file that cannot be written lost the reasons
    # (a traceback after the import); the file being read would have been overwritten.
    path = db_env / "people.csv"
    text = "userId,email\nok1,ok1@x.io\nbad,nope\n"
    path.write_text(text)
    result = runner.invoke(contacts_app, ["import", str(path), "--rejects", str(db_env / where)])
    assert result.exit_code == 1, result.output
    assert "--rejects" in result.stderr and says in result.stderr
    assert "Traceback" not in result.output
    assert path.read_text() == text
    assert runner.invoke(contacts_app, ["show", "ok1"]).exit_code == 1  # nothing imported


@pytest.mark.parametrize("batch", ["0", "-5"])
def test_import_refuses_a_batch_below_one(db_env: Path, batch: str) -> None:
    # --batch 0 imported nothing and said "accepted 0"; a negative one was an islice traceback.
    path = db_env / "people.csv"
    path.write_text("userId,email\nb1,b1@x.io\n")
    result = runner.invoke(contacts_app, ["import", str(path), "--batch", batch])
    assert result.exit_code == 2 and "--batch" in result.output


def test_import_of_an_empty_csv_counts_zero_rows(db_env: Path) -> None:
    path = db_env / "empty.csv"
    path.write_text("")
    assert count_records(path) == 0  # was -1: the progress bar showed 0/-1
    result = runner.invoke(contacts_app, ["import", str(path), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["accepted"] == 0


@pytest.mark.parametrize(("where", "says"), [("missing/x.json", "no folder"), (".", "folder")])
def test_export_to_a_path_it_cannot_write_says_so(db_env: Path, where: str, says: str) -> None:
    path = db_env / "people.csv"
    path.write_text("userId,email\ne1,e1@x.io\n")
    assert runner.invoke(contacts_app, ["import", str(path)]).exit_code == 0
    result = runner.invoke(contacts_app, ["export", "e1", "--out", str(db_env / where)])
    assert result.exit_code == 1, result.output
    assert "--out" in result.stderr and says in result.stderr
    assert "Traceback" not in result.output


def test_negative_counts_are_refused(db_env: Path) -> None:
    # SQLite reads LIMIT -1 as "no limit" (every event, every member); PostgreSQL refuses it.
    events = runner.invoke(contacts_app, ["show", "u1", "--events", "-1"])
    sample = runner.invoke(segments_app, ["show", "vip", "--sample", "-1"])
    assert events.exit_code == 2 and "--events" in events.output
    assert sample.exit_code == 2 and "--sample" in sample.output


def test_import_of_a_csv_whose_header_is_broken_says_what_to_do(db_env: Path) -> None:
    path = db_env / "broken.csv"
    path.write_text('userId,"email\nx1,x1@example.com\n', encoding="utf-8")
    result = runner.invoke(contacts_app, ["import", str(path)])
    assert result.exit_code == 1
    assert "the header" in result.stderr and "import the file again" in result.stderr
