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
previous batches; the database work and its order stay in one process. Where workers are not
forked (Python 3.12+, macOS, Windows) they import the ``__main__`` module, so a script that
imports must guard its entry point with ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import multiprocessing
import os
import re
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from json.encoder import c_make_encoder, encode_basestring_ascii
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
_AS_IS = {c.name for c in contacts.c if isinstance(c.type, sa.String)}
# Below this size a file is parsed in-process: worker processes would not pay for themselves.
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
                {
                    k: v if plain else _typed(v)
                    for (k, plain), v in zip(spec, rec, strict=False)
                    if v
                },
            )
        return
    for line, rec in enumerate(records, start):
        row = dict(zip(header, rec, strict=False))
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


def _json_dumps() -> Callable[[Any], str]:
    # json.dumps builds a C encoder per call, a third of its cost on a small dict; one
    # reused encoder with json.dumps's defaults writes the same text. Import rows come from
    # JSON or CSV, so they cannot be circular and need no circularity check.
    if c_make_encoder is None:
        return json.dumps
    encode = c_make_encoder(
        None,
        json.JSONEncoder().default,
        encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )
    return lambda value: "".join(encode(value, 0))


_dumps = _json_dumps()
_MEMO = 4096  # entries per memo below; JSONL rows may each carry their own time


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
        # The mirror columns of a new contact: name, default, converter (None: as is).
        self._mirrors = [
            (k, _EMPTY[k], None if k in _AS_IS else f)
            for k, f in zip(_COLUMNS, self._convert, strict=True)
            if k in _EMPTY
        ]

    def when(self, v: datetime | None) -> str | None:
        if v is None:
            return None
        stamp = self._stamps.get(v)
        if stamp is None:
            if len(self._stamps) > _MEMO:
                self._stamps.clear()
            stamp = v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            self._stamps[v] = stamp
        return stamp

    def labels(self, v: Any) -> str:
        if not isinstance(v, list):
            return json.dumps(v)
        key = tuple(v)
        text = self._lists.get(key)
        if text is None:
            if len(self._lists) > _MEMO:
                self._lists.clear()
            text = self._lists[key] = _dumps(v)
        return text

    def _converter(self, key: str) -> Callable[[Any], Any]:
        kind = contacts.c[key].type
        if key in ("tags", "interests"):
            return self.labels
        if isinstance(kind, sa.JSON):
            return _dumps
        if isinstance(kind, sa.DateTime):
            return self.when
        if isinstance(kind, sa.Date):
            return lambda v: None if v is None else v.isoformat()
        return lambda v: v

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """``values`` (keyed by column, in ``_COLUMNS`` order from ``id``) as a driver row."""
        return tuple(
            f(values[k]) for k, f in zip(_COLUMNS, self._convert, strict=True) if k in values
        )

    def new(self, row: _Row) -> tuple[Any, ...]:
        """The row ``_write`` would insert for a contact first seen in ``row``, quicker."""
        traits = row.traits
        stamp = row.at.isoformat()
        key = (stamp, *traits)
        times = self._times.get(key)
        if times is None:
            if len(self._times) > _MEMO:
                self._times.clear()
            times = self._times[key] = _dumps(dict.fromkeys(traits, stamp))
        get = columns_from_traits(traits).get
        at = self.when(row.at)
        mirrors = [get(k, d) if f is None else f(get(k, d)) for k, d, f in self._mirrors]
        return (row.user_id, at, *mirrors, _dumps(traits), times, at)


_converters: list[_SqliteValues] = []


def _sqlite_values() -> _SqliteValues:
    if not _converters:
        _converters.append(_SqliteValues())
    return _converters[0]


def _parse(chunk: _Chunk, at: datetime, sqlite: bool) -> tuple[list[Any], list[Rejected]]:
    """Parse and validate one batch (runs in a worker process or in-process).

    Returns accepted rows as ``(userId, at, driver row)`` on SQLite, :class:`_Row` otherwise,
    and the rejected rows.
    """
    convert = _sqlite_values() if sqlite else None
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


def _pool_context() -> Any:
    # Fork where it is still the default (Linux, Python < 3.12): workers start in milliseconds
    # with this module loaded, and they only parse. Elsewhere (fork is deprecated once the
    # parent has threads, as the database driver's) a fork server with this module preloaded;
    # its workers also import the ``__main__`` module, which takes a second or so.
    methods = multiprocessing.get_all_start_methods()
    if sys.version_info < (3, 12) and methods[0] == "fork":
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return multiprocessing.get_context("spawn")


def _start_pool(workers: int) -> Executor:
    """A process pool whose workers are up; blocks for as long as that takes."""
    pool = ProcessPoolExecutor(workers, mp_context=_pool_context())
    try:
        for started in [pool.submit(int) for _ in range(workers)]:
            started.result()
    except BaseException:
        pool.shutdown(cancel_futures=True)
        raise
    return pool


class Importer:
    """Imports contacts in batches of ``batch_size`` rows, one transaction per batch.

    Args:
        engine: the store's engine.
        batch_size: rows per batch and transaction.
        workers: processes that parse and validate batches; ``0`` parses in-process, ``None``
            uses one per CPU for files of :data:`POOL_MIN_BYTES` or more.
    """

    def __init__(self, engine: AsyncEngine, batch_size: int = 5000, workers: int | None = None):
        self._engine = engine
        self.batch_size = batch_size
        self.workers = workers

    def _pool_size(self, rows: Iterable[Raw]) -> int:
        if self.workers is not None:
            return self.workers
        cpus = os.cpu_count() or 1
        if cpus < 2 or not isinstance(rows, RowSource):
            return 0
        return cpus if rows.path.stat().st_size >= POOL_MIN_BYTES else 0

    async def run(
        self,
        rows: Iterable[Raw],
        *,
        now: datetime | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import ``rows`` (from :func:`read_rows`); ``progress(n)`` after each batch of n."""
        report = ImportReport()
        at = now or utcnow()
        sqlite = self._engine.dialect.name == "sqlite"
        if isinstance(rows, RowSource):
            chunks: Iterator[_Chunk] = rows.chunks(self.batch_size)
        else:
            pairs = iter(rows)
            chunks = iter(lambda: ("raw", list(islice(pairs, self.batch_size))), ("raw", []))
        workers = self._pool_size(rows)
        if not workers:
            for chunk in chunks:
                await self._commit(_parse(chunk, at, sqlite), _size(chunk), report, progress)
            return report
        starting = asyncio.get_running_loop().run_in_executor(None, _start_pool, workers)
        try:
            await self._pipeline(chunks, starting, workers, at, sqlite, report, progress)
        finally:
            await asyncio.wait([starting])
            if starting.exception() is None:
                starting.result().shutdown(cancel_futures=True)
        return report

    async def _pipeline(
        self,
        chunks: Iterator[_Chunk],
        starting: asyncio.Future[Executor],
        workers: int,
        at: datetime,
        sqlite: bool,
        report: ImportReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        # Batches are written in file order while the workers parse the next ones. Starting
        # the workers takes about a second: this process parses the first batches meanwhile.
        pending: deque[tuple[Future[Any], int]] = deque()
        pool: Executor | None = None
        for chunk in chunks:
            if pool is None and starting.done():
                pool = starting.result()
            if pool is None:
                await self._commit(_parse(chunk, at, sqlite), _size(chunk), report, progress)
                continue
            pending.append((pool.submit(_parse, chunk, at, sqlite), _size(chunk)))
            while pending and (pending[0][0].done() or len(pending) > 2 * workers):
                future, size = pending.popleft()
                await self._commit(await asyncio.wrap_future(future), size, report, progress)
        while pending:
            future, size = pending.popleft()
            await self._commit(await asyncio.wrap_future(future), size, report, progress)

    async def _commit(
        self,
        parsed: tuple[list[Any], list[Rejected]],
        size: int,
        report: ImportReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        accepted, rejected = parsed
        report.rejected.extend(rejected)
        if accepted:
            if isinstance(accepted[0], _Row):
                await self._write(accepted, report)
            else:
                await self._write_sqlite(accepted, report)
        if progress and size:
            progress(size)

    async def _write_sqlite(
        self, batch: list[tuple[str, datetime, tuple[Any, ...]]], report: ImportReport
    ) -> None:
        """``_write`` for SQLite, through the driver with the rows the workers prepared.

        SQLAlchemy's per-value processing halved the import rate. A contact that is new and
        appears once in the batch is inserted as prepared; the others merge as in ``_write``.
        """
        convert = _sqlite_values()
        ids = list(dict.fromkeys(uid for uid, _, _ in batch))
        async with self._engine.begin() as conn:
            found = await conn.exec_driver_sql(
                "SELECT id, traits, trait_times FROM contacts"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(ids),),
            )
            state = {cid: (json.loads(t), json.loads(tt)) for cid, t, tt in found}
            existing = set(state)
            repeats = Counter(uid for uid, _, _ in batch) if len(ids) < len(batch) else None
            prepared: dict[str, tuple[Any, ...]] = {}
            latest: dict[str, datetime] = {}
            for uid, at, values in batch:
                if uid not in existing and (repeats is None or repeats[uid] == 1):
                    prepared[uid] = values  # the common case of a first import
                    continue
                incoming = json.loads(values[_TRAITS])
                if uid in state:
                    traits, times = state[uid]
                    state[uid] = merge_traits(traits, times, incoming, at)
                else:
                    state[uid] = (incoming, dict.fromkeys(incoming, at.isoformat()))
                latest[uid] = max(latest.get(uid, at), at)
            inserts, updates = [], []
            for cid in ids:
                if cid in prepared:
                    inserts.append(prepared[cid])
                    continue
                traits, times = state[cid]
                values = {
                    **_EMPTY,
                    **columns_from_traits(traits),
                    "traits": traits,
                    "trait_times": times,
                    "updated_at": latest[cid],
                }
                if cid in existing:
                    updates.append((*convert.row(values), cid))
                else:
                    inserts.append(convert.row({"id": cid, "created_at": latest[cid], **values}))
            if inserts:
                await conn.exec_driver_sql(_INSERT, inserts)
            if updates:
                await conn.exec_driver_sql(_UPDATE, updates)
        report.accepted += len(batch)
        report.created += len(inserts)
        report.updated += len(updates)

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
            if inserts:
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


_SET = [k for k in _COLUMNS if k not in ("id", "created_at")]
_INSERT = f"INSERT INTO contacts ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_UPDATE = f"UPDATE contacts SET {', '.join(f'{k} = ?' for k in _SET)} WHERE id = ?"


def write_rejects(path: Path, rejected: list[Rejected]) -> None:
    """One JSON line per rejected row: line number, userId, field and reason."""
    with path.open("w", encoding="utf-8") as fh:
        for r in rejected:
            fh.write(json.dumps(r.__dict__) + "\n")
