"""The ``contacts`` and ``segments`` sub-commands, end to end on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

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
