"""Every command that reads or writes the contact store: a store it cannot open is one line
naming SOJOURN_DATABASE_URL and what to do, exit 1, never a driver's traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.ports import free_port
from worker.cli import app

runner = CliRunner()

# One of each: the store commands share worker.cli_common.open_store.
COMMANDS = [
    ["contacts", "show", "u1"],
    ["contacts", "import", "{csv}"],
    ["contacts", "export", "u1"],
    ["contacts", "erase", "u1", "--yes"],
    ["catalog", "show", "p1"],
    ["catalog", "import", "{csv}"],
    ["segments", "list"],
    ["segments", "show", "vip"],
    ["segments", "refresh"],
    ["templates", "preview", "welcome/hello", "--contact", "u1"],
    ["outbox"],
    ["report"],
]


def invoke(tmp_path: Path, args: list[str], url: str) -> tuple[int, str]:
    csv = tmp_path / "rows.csv"
    csv.write_text("userId,email\nu1,a@example.com\n")
    env = {
        "SOJOURN_ENV": "test",
        "SOJOURN_VAR_DIR": str(tmp_path / "var"),
        "SOJOURN_DATABASE_URL": url,
        "SOJOURN_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    result = runner.invoke(app, [a.format(csv=csv) for a in args], env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_database_that_does_not_answer_is_named(tmp_path: Path, args: list[str]) -> None:
    url = f"postgresql+asyncpg://sojourn:hunter2@127.0.0.1:{free_port()}/x"
    code, output = invoke(tmp_path, args, url)
    assert code == 1, output
    assert "cannot open the contact store at postgresql+asyncpg://sojourn:***@127.0.0.1" in output
    assert "connection refused" in output and "SOJOURN_DATABASE_URL" in output
    assert "hunter2" not in output and "Traceback" not in output


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("not a url", "Could not parse"),
        ("nonsense://x/y", "nonsense"),
        ("sqlite:///x.db", "async driver"),
    ],
)
def test_a_url_no_driver_opens_says_which_urls_work(tmp_path: Path, url: str, why: str) -> None:
    code, output = invoke(tmp_path, ["segments", "list"], url)
    assert code == 1, output
    assert "SOJOURN_DATABASE_URL" in output and why in output
    assert "sqlite+aiosqlite:///" in output and "postgresql+asyncpg://" in output


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("not SQLite\n" * 100)
    code, output = invoke(tmp_path, ["contacts", "show", "u1"], f"sqlite+aiosqlite:///{other}")
    assert code == 1, output
    assert f"cannot open the contact store at sqlite+aiosqlite:///{other}" in output
    assert "file is not a database" in output


def test_invalid_settings_are_named_by_the_store_commands(tmp_path: Path) -> None:
    # segments and templates built Settings() themselves: a pydantic traceback.
    url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    for args in (["segments", "list"], ["templates", "preview", "x/y", "--contact", "u1"]):
        env = {"SOJOURN_ENV": "test", "SOJOURN_DATABASE_URL": url, "SOJOURN_GATEWAY_PORT": "abc"}
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 1, result.output
        assert "invalid settings: SOJOURN_GATEWAY_PORT" in result.output


@pytest.mark.parametrize(
    "args", [["worker", "--connect-timeout", "0"], ["gateway"]], ids=["worker", "gateway"]
)
def test_the_processes_name_a_database_that_does_not_answer(
    tmp_path: Path, args: list[str]
) -> None:
    # The worker migrated after Temporal answered: a traceback (and `sojourn dev` the same,
    # having started Temporal for nothing); the gateway printed uvicorn's lifespan traceback
    # before its one-line error. Now both open the store first. A process of its own each:
    # the commands configure logging.
    env = {
        **os.environ,
        "SOJOURN_ENV": "test",
        "SOJOURN_VAR_DIR": str(tmp_path / "var"),
        "SOJOURN_DATABASE_URL": f"postgresql+asyncpg://127.0.0.1:{free_port()}/x",
        "SOJOURN_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "SOJOURN_GATEWAY_PORT": str(free_port()),
    }
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "Error: cannot open the contact store at postgresql+asyncpg://" in done.stderr
    assert "Traceback" not in done.stderr
