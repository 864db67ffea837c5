"""What an import did: the counts, the rejected rows and the file that lists them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


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
    # Time spent in the batches' transactions (the rest is reading and parsing), for the
    # benchmark; not part of what an import did, so two reports of one file compare equal.
    write_seconds: float = field(default=0.0, compare=False)


def write_rejects(path: Path, rejected: list[Rejected]) -> None:
    """One JSON line per rejected row: line number, userId, field and reason."""
    with path.open("w", encoding="utf-8") as fh:
        for r in rejected:
            fh.write(json.dumps(r.__dict__) + "\n")
