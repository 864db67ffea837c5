"""The intake's write path: group commit on SQLite, a batch's behaviour in one commit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.intake import Intake
from gateway.models import Identify, Page, Track
from store import Store
from store.grouped import GroupCommit
from store.records import EventRecord
from store.schema import events


def record(message_id: str, contact_id: str = "u-w", name: str = "Page Viewed") -> EventRecord:
    now = datetime.now(UTC)
    return EventRecord(
        message_id=message_id, contact_id=contact_id, name=name, timestamp=now, received_at=now
    )


@pytest.fixture
def commits(store: Store) -> Iterator[list[int]]:
    """One entry per transaction committed on the store's engine."""
    seen: list[int] = []

    def count(_conn: Any) -> None:
        seen.append(1)

    sa.event.listen(store.engine.sync_engine, "commit", count)
    yield seen
    sa.event.remove(store.engine.sync_engine, "commit", count)


async def log_order(store: Store) -> list[str]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(sa.select(events.c.message_id).order_by(events.c.seq))
        return list(rows.scalars())


async def test_concurrent_appends_share_commits_and_keep_their_order(
    store: Store, commits: list[int]
) -> None:
    ids = [f"c-{n}" for n in range(60)]
    news = await asyncio.gather(*(store.events.append(record(i)) for i in ids))
    assert news == [True] * len(ids)
    assert await log_order(store) == ids
    assert 1 <= len(commits) < len(ids)  # shared, not one transaction per append
    # A known messageId is refused by the insert itself, also within one group.
    again = await asyncio.gather(
        store.events.append(record("c-0")), store.events.append(record("n"))
    )
    assert again == [False, True]


async def test_a_failing_write_fails_only_its_own_caller(store: Store) -> None:
    async def insert(conn: AsyncConnection, message_id: str) -> str:
        if message_id == "bad":
            raise ValueError("refused")
        await conn.execute(events.insert().values(**_row(message_id)))
        return message_id

    group: GroupCommit[str, str] = GroupCommit(store.engine, insert)
    outcomes = await asyncio.gather(
        *(group.submit(i) for i in ("g-1", "bad", "g-2")), return_exceptions=True
    )
    assert outcomes[0] == "g-1" and outcomes[2] == "g-2"
    assert isinstance(outcomes[1], ValueError)
    assert await log_order(store) == ["g-1", "g-2"]


def _row(message_id: str) -> dict[str, Any]:
    values = record(message_id).model_dump(exclude={"seq"})
    values["routed_at"] = None
    return values


async def test_a_batch_of_behaviour_is_one_commit_in_order_around_other_calls(
    store: Store, commits: list[int]
) -> None:
    calls = [Track(userId="u-b", event="Product Viewed", messageId=f"t-{n}") for n in range(50)]
    calls.insert(20, Identify(userId="u-b", traits={"plan": "pro"}, messageId="id-1"))
    calls.append(Page(userId="u-b", name="Pricing", messageId="p-1"))
    stored = await Intake(store).store_calls(calls)
    assert [s.accepted.message_id for s in stored if not isinstance(s, Exception)] == [
        c.message_id for c in calls
    ]
    assert await log_order(store) == [c.message_id for c in calls]
    tracks = [s for s in stored if not isinstance(s, Exception) and s.routable]
    assert len(tracks) == 51 and {s.contact_id for s in tracks} == {"u-b"}
    # 20 tracks, the identify (its profile and its log row), then 31 behavioural calls: the
    # tracks on either side of the identify are one commit each, not one per call.
    assert len(commits) < 10
    # The same batch again: all duplicates, nothing routable, nothing new in the log.
    again = await Intake(store).store_calls(calls)
    assert all(not isinstance(s, Exception) and s.accepted.duplicate for s in again)
    assert not any(not isinstance(s, Exception) and s.routable for s in again)
    assert len(await log_order(store)) == len(calls)
