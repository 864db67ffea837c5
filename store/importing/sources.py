"""Reading import files: ``.csv`` and ``.jsonl`` rows as ``(line, raw row)`` pairs, in batches.

CSV: one column ``userId`` (or ``user_id``/``id``), optional ``timestamp``, every other non-empty
column a trait (numbers and ``true``/``false`` are typed; ``tags``/``interests`` are
comma-separated). JSONL: ``{"userId": ..., "traits": {...}, "timestamp": ...}`` or the traits
inline next to ``userId``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from store.importing.report import Rejected

ID_KEYS = ("userId", "user_id", "id")
_PLAIN = (*ID_KEYS, "timestamp", "email")  # CSV cells kept as text

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
# Python's csv module reads an unclosed quote leniently: the rest of the file becomes one cell,
# imported as one row under a mangled id. Read strictly, that and other broken quoting are a
# record of their own, rejected with its line (the reader goes on at the next line).
UNCLOSED = (
    "a quote opened in this row is never closed: every line after it was read into this row "
    "and none was imported; close the quote and import the file again (rows already imported "
    "merge)"
)


@dataclass(frozen=True)
class Broken:
    """A CSV record the strict reader refused, in a batch's records (picklable for the pool)."""

    reason: str


def _records(reader: Any) -> Iterator[list[str] | Broken]:
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            text = str(exc)
            yield Broken(UNCLOSED if text == "unexpected end of data" else f"not CSV: {text}")


def _csv_raw(header: list[str], records: Iterable[list[str] | Broken], start: int) -> Iterator[Raw]:
    """``csv.DictReader`` semantics: extra cells dropped, a repeated column's last cell wins."""
    if len(set(header)) == len(header) and all(header):
        spec = [(k, k in _PLAIN) for k in header]
        for line, rec in enumerate(records, start):
            if isinstance(rec, Broken):
                yield line, Rejected(line, None, "line", rec.reason)
                continue
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
        if isinstance(rec, Broken):
            yield line, Rejected(line, None, "line", rec.reason)
            continue
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
Chunk = tuple[Any, ...]


class RowSource:
    """The rows of a ``.csv`` or ``.jsonl`` file, iterable as ``(line, raw row)`` pairs.

    :class:`~store.importing.importer.Importer` reads it in batches instead, so worker
    processes can parse them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.csv = path.suffix.lower() == ".csv"

    def __iter__(self) -> Iterator[Raw]:
        for chunk in self.chunks(5000):
            yield from chunk_rows(chunk)

    def chunks(self, size: int) -> Iterator[Chunk]:
        """Batches of ``size`` CSV records or JSONL lines, in file order."""
        if self.csv:
            with self.path.open(newline="", encoding="utf-8") as fh:
                reader = _records(csv.reader(fh, strict=True))
                header = next(reader, None)
                if header is None:
                    return
                if isinstance(header, Broken):
                    raise csv.Error(f"line 1, the header: {header.reason}")
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


def chunk_rows(chunk: Chunk) -> Iterator[Raw]:
    """The ``(line, raw row)`` pairs of one batch."""
    if chunk[0] == "csv":
        return _csv_raw(chunk[2], chunk[3], chunk[1])
    if chunk[0] == "jsonl":
        return _jsonl_raw(chunk[2], chunk[1])
    return iter(chunk[1])


def chunk_size(chunk: Chunk) -> int:
    """How many input rows one batch covers."""
    return len(chunk[-1])
