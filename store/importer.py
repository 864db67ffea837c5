"""Bulk contact import from CSV or JSONL: validated rows, merged like ``identify``, idempotent.

Rows are read, validated and merged in batches; each batch is one transaction that inserts new
contacts and updates existing ones (traits merged last-write-wins, as ``identify`` does), so a
re-run of the same file changes nothing and a partial run can simply be run again.

CSV: one column ``userId`` (or ``user_id``/``id``), optional ``timestamp``, every other non-empty
column a trait (numbers and ``true``/``false`` are typed; ``tags``/``interests`` are
comma-separated). JSONL: ``{"userId": ..., "traits": {...}, "timestamp": ...}`` or the traits
inline next to ``userId``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    # Regexes first: exceptions from int()/float() on every text cell cost more than the parse.
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return text


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    """``(line, raw row)`` pairs from a ``.csv`` or ``.jsonl`` file; unreadable lines rejected."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            for line, row in enumerate(csv.DictReader(fh), start=2):
                yield (
                    line,
                    {
                        k: (v if k in ID_KEYS or k in ("timestamp", "email") else _typed(v))
                        for k, v in row.items()
                        if k and v not in (None, "")
                    },
                )
        return
    with path.open(encoding="utf-8") as fh:
        for line, text in enumerate(fh, start=1):
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


class Importer:
    """Imports contacts in batches of ``batch_size`` rows, one transaction per batch."""

    def __init__(self, engine: AsyncEngine, batch_size: int = 5000) -> None:
        self._engine = engine
        self.batch_size = batch_size

    async def run(
        self,
        rows: Iterable[tuple[int, dict[str, Any] | Rejected]],
        *,
        now: datetime | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import ``rows`` (from :func:`read_rows`); ``progress(n)`` after each batch of n."""
        report = ImportReport()
        at = now or utcnow()
        batch: list[_Row] = []
        seen = 0
        for line, raw in rows:
            seen += 1
            if isinstance(raw, Rejected):
                report.rejected.append(raw)
                continue
            try:
                batch.append(parse_row(line, raw, at))
            except InvalidTrait as exc:
                uid = next((str(raw[k]) for k in ID_KEYS if raw.get(k)), None)
                report.rejected.append(Rejected(line, uid, exc.field, str(exc)))
            if len(batch) >= self.batch_size:
                await self._write(batch, report)
                batch = []
                if progress:
                    progress(seen)
                seen = 0
        if batch:
            await self._write(batch, report)
        if progress and seen:
            progress(seen)
        return report

    async def _write(self, batch: list[_Row], report: ImportReport) -> None:
        ids = list(dict.fromkeys(r.user_id for r in batch))
        async with self._engine.begin() as conn:
            found = await conn.execute(
                sa.select(contacts.c.id, contacts.c.traits, contacts.c.trait_times).where(
                    contacts.c.id.in_(ids)
                )
            )
            state: dict[str, tuple[dict, dict]] = {r.id: (r.traits, r.trait_times) for r in found}
            existing = set(state)
            latest: dict[str, datetime] = {}
            for row in batch:
                if row.user_id in state:
                    traits, times = state[row.user_id]
                    state[row.user_id] = merge_traits(traits, times, row.traits, row.at)
                else:  # the common case of a first import: nothing to merge with
                    stamp = row.at.isoformat()
                    state[row.user_id] = (row.traits, dict.fromkeys(row.traits, stamp))
                latest[row.user_id] = max(latest.get(row.user_id, row.at), row.at)
            inserts, updates = [], []
            for cid in ids:
                traits, times = state[cid]
                values = {
                    **_EMPTY,
                    **columns_from_traits(traits),
                    "traits": traits,
                    "trait_times": times,
                    "updated_at": latest[cid],
                }
                if cid in existing:
                    # Bind names may not equal column names in an executemany UPDATE.
                    updates.append({"_id": cid, **{f"v_{k}": v for k, v in values.items()}})
                else:
                    inserts.append({"id": cid, "created_at": latest[cid], **values})
            if inserts and conn.dialect.name == "sqlite":
                await _sqlite_insert(conn, inserts)
            elif inserts:
                await conn.execute(contacts.insert(), inserts)
            if updates:
                keys = [k[2:] for k in updates[0] if k != "_id"]
                stmt = (
                    contacts.update()
                    .where(contacts.c.id == sa.bindparam("_id"))
                    .values({k: sa.bindparam(f"v_{k}", type_=contacts.c[k].type) for k in keys})
                )
                await conn.execute(stmt, updates)
        report.accepted += len(batch)
        report.created += len(inserts)
        report.updated += len(updates)


async def _sqlite_insert(conn: Any, rows: list[dict[str, Any]]) -> None:
    """Insert through the driver: SQLAlchemy's per-value processing halved the import rate.

    Values are converted the way SQLAlchemy's SQLite types store them (JSON text, ISO dates,
    ``YYYY-MM-DD HH:MM:SS.ffffff`` UTC date-times), so reads through Core see the same rows.
    """
    keys = list(rows[0])
    stamps: dict[datetime, str] = {}  # most rows of a batch share one import time

    def when(v: datetime | None) -> str | None:
        if v is None:
            return None
        if v not in stamps:
            stamps[v] = v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return stamps[v]

    def convert(key: str) -> Callable[[Any], Any]:
        kind = contacts.c[key].type
        if isinstance(kind, sa.JSON):
            return json.dumps
        if isinstance(kind, sa.DateTime):
            return when
        if isinstance(kind, sa.Date):
            return lambda v: None if v is None else v.isoformat()
        return lambda v: v

    converters = [(k, convert(k)) for k in keys]
    sql = f"INSERT INTO contacts ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})"
    await conn.exec_driver_sql(sql, [tuple(f(r[k]) for k, f in converters) for r in rows])


def write_rejects(path: Path, rejected: list[Rejected]) -> None:
    """One JSON line per rejected row: line number, userId, field and reason."""
    with path.open("w", encoding="utf-8") as fh:
        for r in rejected:
            fh.write(json.dumps(r.__dict__) + "\n")
