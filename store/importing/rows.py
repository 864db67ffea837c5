"""Raw rows to contacts: validation, and the values a batch inserts.

:func:`parse_batch` is what worker processes run (see :mod:`store.importing.pool`), so it and
everything it calls stay top-level functions of this module: the pool pickles them by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

# c_make_encoder is CPython's C encoder, which typeshed does not list.
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

import sqlalchemy as sa

from store.contacts import (
    COLUMN_TRAITS,
    InvalidTrait,
    columns_from_traits,
    normalise_traits,
    parse_time,
)
from store.importing.report import Rejected
from store.importing.sources import ID_KEYS, Broken, Chunk, chunk_rows
from store.schema import contacts
from store.storable import DEPTH_MAX, NUL, find_unstorable, has_unstorable

MIRRORS = sorted(set(COLUMN_TRAITS.values()) | {"country", "city"})
EMPTY: dict[str, Any] = {col: None for col in MIRRORS} | {"tags": [], "interests": []}
# Column order of a new contact's row; ``write_core`` builds its dicts in the same order.
COLUMNS = ("id", "created_at", *MIRRORS, "traits", "trait_times", "updated_at")
_AS_IS = {c.name for c in contacts.c if isinstance(c.type, sa.String)}
# Dialects whose batches skip SQLAlchemy: rows go to the driver as the workers prepared them.
DRIVER_DIALECTS = ("sqlite", "postgresql")


@dataclass
class Row:
    """One validated row: whose, which traits, and as of when."""

    line: int
    user_id: str
    traits: dict[str, Any]
    at: datetime


def parse_row(
    line: int, raw: dict[str, Any], default_at: datetime, *, check_storable: bool = True
) -> Row:
    """Validate one raw row; raises :class:`InvalidTrait` naming the bad field.

    What the store cannot hold (store/storable.py: U+0000, a lone surrogate, NaN or Infinity,
    nesting past 64 levels) in the id, a trait (keys included, at any depth) or the timestamp
    is refused like any bad field (``traits.firstName``): unchecked, one such row failed its
    whole batch, and with it the import. ``check_storable=False`` skips that walk for a row
    known to hold none (:func:`parse_batch` knows it of most batches).
    """
    key = next((k for k in ID_KEYS if raw.get(k) not in (None, "")), None)
    user_id = raw[key] if key is not None else None
    if not isinstance(user_id, str | int) or isinstance(user_id, bool):
        raise InvalidTrait("userId", "userId is missing")
    traits = raw.get("traits")
    if traits is None:
        traits = {k: v for k, v in raw.items() if k not in ID_KEYS and k != "timestamp"}
    elif not isinstance(traits, dict):
        raise InvalidTrait("traits", "traits must be an object")
    if check_storable:
        _refuse_unstorable(str(key), user_id, traits, raw.get("timestamp"))
    at = parse_time(raw["timestamp"], "timestamp") if raw.get("timestamp") else default_at
    return Row(line, str(user_id), normalise_traits(traits), at)


def _refuse_unstorable(id_key: str, user_id: Any, traits: dict[str, Any], timestamp: Any) -> None:
    """Raise :class:`InvalidTrait` for the first of the row's fields the store cannot hold."""
    if not has_unstorable([user_id, traits, timestamp]):
        return
    for value, path in ((user_id, id_key), (traits, "traits"), (timestamp, "timestamp")):
        found = find_unstorable(value, path)
        if found is not None:
            raise InvalidTrait(*found)


# What json.loads turns into an unstorable value, as it is written in a line of JSON: the
# U+0000 and surrogate escapes (raw ones cannot be in text decoded as UTF-8), NaN and
# Infinity, an exponent of three digits or more (1e400 is read as Infinity) and an integer of
# 300 digits or more (past the largest float from 309). A match only says "walk this batch's
# rows": 1e100 is storable, and a string may hold the word NaN.
_JSONL_SUSPECT = re.compile(r"\\u(?:0000|[dD][89a-fA-F])|NaN|Infinity|[eE][+-]?\d{3}|\d{300}")


def _may_be_unstorable(chunk: Chunk) -> bool:
    """Whether a row of ``chunk`` may hold what the store cannot: one search per line or record,
    so that the rows of the (nearly all) batches without one skip :func:`_refuse_unstorable`."""
    if chunk[0] == "csv":
        # Cells are text decoded as UTF-8 (no surrogate can be in it), never numbers.
        records = (r for r in chunk[3] if not isinstance(r, Broken))  # Broken: rejected anyway
        return NUL in "".join(chunk[2]) or any(NUL in "".join(r) for r in records)
    if chunk[0] == "jsonl":
        return any(
            NUL in text
            or _JSONL_SUSPECT.search(text) is not None
            or text.count("{") + text.count("[") > DEPTH_MAX
            for text in chunk[2]
        )
    return True


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


class DriverValues:
    """Python values to what the driver stores without SQLAlchemy in between.

    SQLite (``text_times``): what SQLAlchemy's SQLite types store (JSON text, ISO dates,
    ``YYYY-MM-DD HH:MM:SS.ffffff`` UTC date-times), so reads through Core see the same rows.
    PostgreSQL: the values asyncpg's ``COPY`` encodes (aware date-times, dates, JSON as text,
    which is what SQLAlchemy's asyncpg codec sends for ``json``).

    Memoised: import rows share their import time, tag sets, trait names and signup days.
    """

    def __init__(self, text_times: bool = True) -> None:
        self.text_times = text_times
        self._stamps: dict[datetime, str] = {}
        self._times: dict[tuple[Any, ...], str] = {}
        self._lists: dict[tuple[Any, ...], str] = {}
        self._convert = [self._converter(k) for k in COLUMNS]
        # The mirror columns of a new contact: name, default, converter (None: as is).
        self._mirrors = [
            (k, EMPTY[k], None if k in _AS_IS else f)
            for k, f in zip(COLUMNS, self._convert, strict=True)
            if k in EMPTY
        ]

    def when(self, v: datetime | None) -> str | datetime | None:
        if v is None or not self.text_times:
            return v
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
        if isinstance(kind, sa.Date) and self.text_times:
            return lambda v: None if v is None else v.isoformat()
        return lambda v: v

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """``values`` (keyed by column, in ``COLUMNS`` order from ``id``) as a driver row."""
        return tuple(
            f(values[k]) for k, f in zip(COLUMNS, self._convert, strict=True) if k in values
        )

    def new(self, row: Row) -> tuple[Any, ...]:
        """The row ``write_core`` would insert for a contact first seen in ``row``, quicker."""
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


_converters: dict[str, DriverValues] = {}


def driver_values(dialect: str) -> DriverValues:
    """This process's :class:`DriverValues` for ``dialect``, made on first use."""
    convert = _converters.get(dialect)
    if convert is None:
        convert = _converters[dialect] = DriverValues(text_times=dialect == "sqlite")
    return convert


def parse_batch(chunk: Chunk, at: datetime, dialect: str) -> tuple[list[Any], list[Rejected]]:
    """Parse and validate one batch (runs in a worker process or in-process).

    Returns accepted rows as ``(userId, at, driver row)`` on SQLite and PostgreSQL,
    :class:`Row` on another dialect, and the rejected rows.
    """
    convert = driver_values(dialect) if dialect in DRIVER_DIALECTS else None
    check_storable = _may_be_unstorable(chunk)
    accepted: list[Any] = []
    rejected: list[Rejected] = []
    for line, raw in chunk_rows(chunk):
        if isinstance(raw, Rejected):
            rejected.append(raw)
            continue
        try:
            row = parse_row(line, raw, at, check_storable=check_storable)
        except InvalidTrait as exc:
            uid = next((str(raw[k]) for k in ID_KEYS if raw.get(k)), None)
            rejected.append(Rejected(line, uid, exc.field, str(exc)))
            continue
        accepted.append((row.user_id, row.at, convert.new(row)) if convert else row)
    return accepted, rejected
