"""Bulk contact import from CSV or JSONL: validated rows, merged like ``identify``, idempotent.

Rows are read, validated and merged in batches; each batch is one transaction that inserts new
contacts and updates existing ones (traits merged last-write-wins, as ``identify`` does), so a
re-run of the same file changes nothing and a partial run can simply be run again.

CSV: one column ``userId`` (or ``user_id``/``id``), optional ``timestamp``, every other non-empty
column a trait (numbers and ``true``/``false`` are typed; ``tags``/``interests`` are
comma-separated). JSONL: ``{"userId": ..., "traits": {...}, "timestamp": ...}`` or the traits
inline next to ``userId``.

Parsing and validation are per-row Python and were the import's bottleneck, so large files are
cut into batches that worker processes parse and validate while this process writes the
previous batches; the database work and its order stay in one process.
"""

from __future__ import annotations

import asyncio
import csv
import json
import multiprocessing
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import now as utcnow
from store.contacts import (
    COLUMN_TRAITS,
    InvalidTrait,
    columns_from_traits,
    merge_traits,
    normalise_traits,
    parse_time,
)
from store.schema import contacts

ID_KEYS = ("userId", "user_id", "id")
MIRRORS = sorted(set(COLUMN_TRAITS.values()) | {"country", "city"})
_EMPTY = {col: None for col in MIRRORS} | {"tags": [], "interests": []}
# Column order of a new contact's row; ``_write`` builds its dicts in the same order.
_COLUMNS = ("id", "created_at", *MIRRORS, "traits", "trait_times", "updated_at")
_TRAITS = _COLUMNS.index("traits")
_PLAIN = (*ID_KEYS, "timestamp", "email")  # CSV cells kept as text
# Below this size a file is parsed in-process: starting worker processes costs about a second.
POOL_MIN_BYTES = 4 << 20


@dataclass
class Rejected:
    """A row that was not imported, and why (``field`` names the offending field)."""

    line: int
    user_id: str | None
    field: str
    error: str


@dataclass
class ImportReport:
    """What an import did."""

    accepted: int = 0
    created: int = 0
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    user_id: str
    traits: dict[str, Any]
    at: datetime


_INT = re.compile(r"-?\d{1,18}")
_FLOAT = re.compile(r"-?\d+\.\d*([eE][-+]?\d+)?")


def _typed(text: str) -> Any:
    # Only a digit or '-' can start a number, only 4-5 letters spell a boolean: most text
    # cells are returned after one or two cheap tests instead of two regexes.
    if text[0] in "-0123456789":
        if _INT.fullmatch(text):
            return int(text)
        if _FLOAT.fullmatch(text):
            return float(text)
    elif len(text) in (4, 5):
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return text


Raw = tuple[int, dict[str, Any] | Rejected]


def _csv_raw(header: list[str], records: Iterable[list[str]], start: int) -> Iterator[Raw]:
    """``csv.DictReader`` semantics: extra cells dropped, a repeated column's last cell wins."""
    if len(set(header)) == len(header) and all(header):
        spec = [(k, k in _PLAIN) for k in header]
        for line, rec in enumerate(records, start):
            yield (
                line,
                {k: v if plain else _typed(v) for (k, plain), v in zip(spec, rec) if v},
            )
        return
    for line, rec in enumerate(records, start):
        row = dict(zip(header, rec))
        yield line, {k: v if k in _PLAIN else _typed(v) for k, v in row.items() if k and v}


def _jsonl_raw(lines: Iterable[str], start: int) -> Iterator[Raw]:
    for line, text in enumerate(lines, start):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield line, Rejected(line, None, "line", f"not JSON: {exc.msg}")
            continue
        if not isinstance(data, dict):
            yield line, Rejected(line, None, "line", "expected a JSON object")
            continue
        yield line, data


# A batch as sent to a parser: ("csv", first line, header, records), ("jsonl", first line,
# lines) or ("raw", (line, raw) pairs); it also says how many input rows it covers.
_Chunk = tuple[Any, ...]


class RowSource:
    """The rows of a ``.csv`` or ``.jsonl`` file, iterable as ``(line, raw row)`` pairs.

    :class:`Importer` reads it in batches instead, so worker processes can parse them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.csv = path.suffix.lower() == ".csv"

    def __iter__(self) -> Iterator[Raw]:
        for chunk in self.chunks(5000):
            yield from _raw(chunk)

    def chunks(self, size: int) -> Iterator[_Chunk]:
        """Batches of ``size`` CSV records or JSONL lines, in file order."""
        if self.csv:
            with self.path.open(newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                header = next(reader, None)
                if header is None:
                    return
                line = 2
                while records := list(islice(reader, size)):
                    # DictReader skips empty records without numbering them.
                    records = [r for r in records if r]
                    yield ("csv", line, header, records)
                    line += len(records)
            return
        with self.path.open(encoding="utf-8") as fh:
            line = 1
            while lines := list(islice(fh, size)):
                yield ("jsonl", line, lines)
                line += len(lines)


def read_rows(path: Path) -> RowSource:
    """``(line, raw row)`` pairs from a ``.csv`` or ``.jsonl`` file; unreadable lines rejected."""
    return RowSource(path)


def _raw(chunk: _Chunk) -> Iterator[Raw]:
    if chunk[0] == "csv":
        return _csv_raw(chunk[2], chunk[3], chunk[1])
    if chunk[0] == "jsonl":
        return _jsonl_raw(chunk[2], chunk[1])
    return iter(chunk[1])


def _size(chunk: _Chunk) -> int:
    return len(chunk[-1])


def parse_row(line: int, raw: dict[str, Any], default_at: datetime) -> _Row:
    """Validate one raw row; raises :class:`InvalidTrait` naming the bad field."""
    user_id = next((raw[k] for k in ID_KEYS if raw.get(k) not in (None, "")), None)
    if not isinstance(user_id, str | int) or isinstance(user_id, bool):
        raise InvalidTrait("userId", "userId is missing")
    traits = raw.get("traits")
    if traits is None:
        traits = {k: v for k, v in raw.items() if k not in ID_KEYS and k != "timestamp"}
    elif not isinstance(traits, dict):
        raise InvalidTrait("traits", "traits must be an object")
    at = parse_time(raw["timestamp"], "timestamp") if raw.get("timestamp") else default_at
    return _Row(line, str(user_id), normalise_traits(traits), at)


class _SqliteValues:
    """Python values to what SQLAlchemy's SQLite types store (JSON text, ISO dates,
    ``YYYY-MM-DD HH:MM:SS.ffffff`` UTC date-times), so reads through Core see the same rows.

    Memoised: import rows share their import time, tag sets, trait names and signup days.
    """

    def __init__(self) -> None:
        self._stamps: dict[datetime, str] = {}
        self._times: dict[tuple[Any, ...], str] = {}
        self._lists: dict[tuple[Any, ...], str] = {}
        self._convert = [self._converter(k) for k in _COLUMNS]

    def when(self, v: datetime | None) -> str | None:
        if v is None:
            return None
        stamp = self._stamps.get(v)
        if stamp is None:
            stamp = v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            self._stamps[v] = stamp
        return stamp

    def labels(self, v: Any) -> str:
        key = tuple(v) if isinstance(v, list) else None
        if key is None:
            return json.dumps(v)
        text = self._lists.get(key)
        if text is None:
            text = self._lists[key] = json.dumps(v)
        return text

    def _converter(self, key: str) -> Callable[[Any], Any]:
        kind = contacts.c[key].type
        if key in ("tags", "interests"):
            return self.labels
        if isinstance(kind, sa.JSON):
            return json.dumps
        if isinstance(kind, sa.DateTime):
            return self.when
        if isinstance(kind, sa.Date):
            return lambda v: None if v is None else v.isoformat()
        return lambda v: v

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """``values`` (keyed by column, in ``_COLUMNS`` order from ``id``) as a driver row."""
        return tuple(f(values[k]) for k, f in zip(_COLUMNS, self._convert) if k in values)

    def new(self, row: _Row) -> tuple[Any, ...]:
        """The row of a contact first seen in ``row`` (what ``_write`` would insert)."""
        traits = row.traits
        stamp = row.at.isoformat()
        key = (stamp, *traits)
        times = self._times.get(key)
        if times is None:
            times = self._times[key] = json.dumps(dict.fromkeys(traits, stamp))
        return self.row(
            {
                "id": row.user_id,
                "created_at": row.at,
                **_EMPTY,
                **columns_from_traits(traits),
                "traits": traits,
                "trait_times": times,
                "updated_at": row.at,
            }
        )


_TIMES = _COLUMNS.index("trait_times")


class _Sqlite(_SqliteValues):
    def new(self, row: _Row) -> tuple[Any, ...]:  # trait_times arrives as JSON already
        values = super().new(row)
        return values[:_TIMES] + (json.loads(values[_TIMES]),) + values[_TIMES + 1 :]


_converters: dict[bool, _SqliteValues] = {}


def _parse(chunk: _Chunk, at: datetime, sqlite: bool) -> tuple[list[Any], list[Rejected]]:
    """Parse and validate one batch (runs in a worker process or in-process).

    Returns accepted rows as ``(userId, at, driver row)`` on SQLite, :class:`_Row` otherwise,
    and the rejected rows.
    """
    convert = _converters.get(True) if sqlite else None
    if sqlite and convert is None:
        convert = _converters[True] = _SqliteValues()
    accepted: list[Any] = []
    rejected: list[Rejected] = []
    for line, raw in _raw(chunk):
        if isinstance(raw, Rejected):
            rejected.append(raw)
            continue
        try:
            row = parse_row(line, raw, at)
        except InvalidTrait as exc:
            uid = next((str(raw[k]) for k in ID_KEYS if raw.get(k)), None)
            rejected.append(Rejected(line, uid, exc.field, str(exc)))
            continue
        accepted.append((row.user_id, row.at, convert.new(row)) if convert else row)
    return accepted, rejected
