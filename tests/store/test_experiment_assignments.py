"""Sticky arms on both backends: the first assignment is kept and read back as written, and the
one that wins it is not read again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from store import Store

T0 = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)


@contextmanager
def selects(db: Store) -> Iterator[list[str]]:
    """The SELECTs ``db`` runs inside the block."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def test_the_first_arm_sticks_and_a_new_one_is_returned_as_written(db: Store) -> None:
    repo = db.experiments
    with selects(db) as reads:
        stored, new = await repo.assign("subject", "welcome", "c-assign-1", "curiosity", T0)
    assert new and reads == [], "the arm just written needs no read"
    assert (stored.experiment, stored.contact_id, stored.journey) == (
        "subject",
        "c-assign-1",
        "welcome",
    )
    assert stored.arm == "curiosity" and stored.message_id is None
    assert await repo.get("subject", "c-assign-1") == stored  # as the store keeps it

    later = datetime(2026, 2, 1, tzinfo=UTC)
    again, new = await repo.assign("subject", "welcome", "c-assign-1", "greeting", later)
    assert not new
    assert again == stored, "a second assignment returns the first arm, unchanged"
