"""Helpers every ``sojourn`` command shares: settings, errors, ``key=value`` options, output."""

from __future__ import annotations

import asyncio
import csv
import json
import os
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
import uvloop
from pydantic import ValidationError

from store import Store
from store.keys import StoreNotMigrated
from worker.errors import SojournError
from worker.settings import Settings
from worker.stores import open_at

T = TypeVar("T")


# The channels messages go out on (store/records.py MessageRecord.channel).
CHANNELS = ("email", "sms", "push", "audience")


def fail(message: str) -> NoReturn:
    """Print ``message`` to stderr and exit with status 1."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def _problem(err: Any) -> str:
    # A check across settings has no field (its message names them): no "SOJOURN_?" prefix.
    message = str(err["msg"]).removeprefix("Value error, ")
    if not err["loc"]:
        return message
    return f"SOJOURN_{'_'.join(str(p) for p in err['loc']).upper()}: {message}"


def load_settings() -> Settings:
    """Settings from the environment (``SOJOURN_*``) and ``.env``; bad values end the command."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        fail(f"invalid settings: {problems}")


async def open_store(settings: Settings | None = None, *, migrate: bool = True) -> Store:
    """The store the settings name, connected and (unless ``migrate=False``) migrated; one it
    cannot open ends the command naming SOJOURN_DATABASE_URL (:func:`worker.stores.open_at`)."""
    return await open_at((settings or load_settings()).database_url, migrate=migrate)


def count_records(path: Path) -> int:
    """Records in a ``.csv`` (less its header line) or ``.jsonl`` file, for a progress bar."""
    with path.open("rb") as fh:
        lines = sum(1 for line in fh if line.strip())
    # An empty CSV has no header either: 0 records, not -1.
    return max(lines - 1, 0) if path.suffix.lower() == ".csv" else lines


def output_file(path: Path, option: str, *, source: Path | None = None) -> Path:
    """``path``, once it is sure a file can be written there; else the command ends.

    Checked before any work: an import whose rejects file cannot be written has already
    stored its good rows, and a report or export computed for nothing is time lost.
    ``source`` is the command's input, never to be overwritten by its output.
    """
    if source is not None and path.resolve() == source.resolve():
        fail(f"{option} {path} is the file being read: choose another path")
    if path.is_dir():
        fail(f"{option} {path} is a folder: name a file (one inside it, say)")
    folder = path.parent
    if not folder.is_dir():
        fail(f"{option} {path}: there is no folder {folder}; create it or choose another path")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"{option} {path} is not writable: choose another path")
    return path


def write_text(path: Path, text: str, option: str) -> None:
    """Write ``text`` to ``path``; a failure (a full disk, a folder gone) ends the command."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{option}: cannot write {path} ({exc.strerror or exc}): choose another path")


def write_key(settings: Settings) -> str:
    """The write key the CLI sends: the first of ``SOJOURN_WRITE_KEYS``, else the dev key.

    So ``sojourn identify``/``event`` work against ``sojourn dev`` with no set-up, and against
    a production gateway once ``SOJOURN_WRITE_KEYS`` is in the environment.
    """
    keys = settings.accepted_write_keys
    if not keys:
        fail("no write key: set SOJOURN_WRITE_KEYS to a key the gateway accepts")
    return keys[0]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` in a fresh event loop; a :class:`SojournError` (or a store that was never
    migrated, met by the payload codec) becomes a clean exit 1.

    The loop is uvloop's: the gateway, the relay and the worker share one thread in
    ``sojourn dev``, and uvloop's callbacks and sockets cost a fraction of asyncio's.
    """
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    except (SojournError, StoreNotMigrated) as exc:
        fail(str(exc))
    except (asyncio.CancelledError, KeyboardInterrupt):
        # A second Ctrl-C cut the graceful shutdown short; cleanup already ran.
        typer.echo("Interrupted.", err=True)
        raise typer.Exit(130) from None


def parse_pairs(pairs: Sequence[str], option: str) -> dict[str, Any]:
    """``key=value`` options as a dict; values that parse as JSON (numbers, true, null, …) do.

    Quote a value to keep it a string: ``--trait 'zip="01234"'``.
    """
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            fail(f"{option} wants key=value, got {pair!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        result[key.strip()] = value
    return result


def iso(moment: datetime | None) -> str | None:
    """A datetime as ISO 8601 (or None)."""
    return moment.isoformat() if moment else None


def short_time(moment: datetime | None) -> str:
    """A datetime for a table cell, to the second."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def echo_json(rows: list[dict[str, Any]]) -> None:
    """Print a listing as one JSON array (datetimes as ISO 8601)."""
    typer.echo(json.dumps(rows, indent=2, default=_jsonable))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows as left-aligned columns under ``headers``."""
    cells = [[str(h) for h in headers], *[["-" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def report_import(
    file: Path,
    rejects: Path,
    as_json: bool,
    work: Coroutine[Any, Any, Any],
    write_rejects: Callable[[Path, Any], None],
) -> None:
    """Run an import (``work``, whose result has ``accepted``, ``created``, ``updated`` and
    ``rejected``), write its rejects and print its summary; a file it cannot read ends the
    command with a line saying what to do (rows already imported stay: imports merge)."""
    try:
        report = run(work)
    except UnicodeDecodeError as exc:
        fail(
            f"{file} is not UTF-8 text (byte {exc.start} cannot be decoded): save it as UTF-8 "
            "and import it again; rows already imported merge, nothing is duplicated"
        )
    except csv.Error as exc:  # only the header: a broken row is rejected on its own
        fail(f"{file}: {exc}; fix it and import the file again")
    if report.rejected:
        try:
            write_rejects(rejects, report.rejected)
        except OSError as exc:
            fail(
                f"imported {report.accepted} rows, but the {len(report.rejected)} rejected "
                f"cannot be written to {rejects} ({exc.strerror or exc}): run the import again "
                "with --rejects PATH (rows already imported merge, nothing is duplicated)"
            )
    summary = {
        "accepted": report.accepted,
        "created": report.created,
        "updated": report.updated,
        "rejected": len(report.rejected),
        "rejects_file": str(rejects) if report.rejected else None,
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(
        f"accepted {report.accepted} ({report.created} new, {report.updated} updated), "
        f"rejected {len(report.rejected)}"
    )
    if report.rejected:
        typer.echo(f"reasons per rejected row: {rejects}")
