"""Signing in while anonymous calls are in flight: the anonymous history joins the user, once.

The race an audit found: an anonymous call resolved ``anon:<id>`` just before the identify
that links the id committed its merge, then stored its event (recreating the anonymous
profile) after it. The link existing, nothing merged again and that history was lost to the
user. Here one identify linking the id races anonymous calls for real, concurrent calls
through :class:`gateway.intake.Intake` (as concurrent requests reach it), many trials, on
SQLite and PostgreSQL: tracks (orders, so the computed fields show each was counted once)
and anonymous identifies (a profile write as well as a log row; on PostgreSQL, without the
fix, they also failed outright when the merge deleted the profile they had just ensured).
"""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
import sqlalchemy as sa

from gateway.intake import Intake, Stored
from gateway.models import AnyCall, Identify, Track
from store import Store
from store.identities import anonymous_contact
from store.schema import events
from tests.store.backends import db, pg_store

__all__ = ["db", "pg_store"]

TRIALS = 25
JITTER = 0.004  # seconds: calls start spread over a few link transactions
ORDER = "Order Completed"
AMOUNT = 10.0


async def _owners(store: Store, message_ids: list[str]) -> list[str]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(events.c.contact_id).where(events.c.message_id.in_(message_ids))
        )
        return list(rows.scalars())


async def _events_of(store: Store, contact_id: str) -> int:
    async with store.engine.connect() as conn:
        count = await conn.execute(
            sa.select(sa.func.count()).select_from(events).where(events.c.contact_id == contact_id)
        )
        return int(count.scalar_one())


async def _trial(store: Store, rng: random.Random, tracks: int, identifies: int) -> None:
    anonymous_id = f"a-{uuid.uuid4().hex[:10]}"
    user = f"u-{uuid.uuid4().hex[:10]}"
    anonymous = anonymous_contact(anonymous_id)
    calls: list[AnyCall] = [
        Track(
            anonymousId=anonymous_id,
            event=ORDER,
            properties={"total": AMOUNT},
            messageId=f"{anonymous_id}-t{n}",
        )
        for n in range(tracks)
    ]
    calls += [
        Identify(anonymousId=anonymous_id, traits={f"seen{n}": n}, messageId=f"{anonymous_id}-i{n}")
        for n in range(identifies)
    ]
    rng.shuffle(calls)
    link = Identify(
        userId=user,
        anonymousId=anonymous_id,
        traits={"email": f"{user}@example.com"},
        messageId=f"{anonymous_id}-link",
    )
    # The link starts among the first half, so most anonymous calls resolve while it merges.
    calls.insert(rng.randrange(len(calls) // 2 + 1), link)
    # One intake, as the app has: concurrent requests share it and its store.
    intake = Intake(store)

    async def send(call: AnyCall, delay: float) -> Stored:
        await asyncio.sleep(delay)
        return await intake.store_call(call)

    stored = await asyncio.gather(*(send(call, rng.random() * JITTER) for call in calls))
    assert not any(s.accepted.duplicate for s in stored)

    owners = await _owners(store, [call.message_id for call in calls if call.message_id])
    assert sorted(owners) == [user] * len(calls), (
        f"{owners.count(anonymous)} of {len(calls)} events left on {anonymous}"
    )
    assert await _events_of(store, anonymous) == 0
    assert await store.contacts.get(anonymous) is None
    profile = await store.contacts.get(user)
    assert profile is not None
    # Every order counted once: merged once, none twice, none missed.
    assert (profile.order_count, profile.total_spent) == (tracks, AMOUNT * tracks)
    assert all(profile.traits.get(f"seen{n}") == n for n in range(identifies)), profile.traits
    assert profile.email == f"{user}@example.com"


@pytest.mark.parametrize(("tracks", "identifies"), [(7, 1), (0, 7)], ids=["tracks", "identifies"])
async def test_anonymous_calls_racing_the_link_all_end_up_under_the_user(
    db: Store, tracks: int, identifies: int
) -> None:
    rng = random.Random(f"{tracks}-{identifies}")
    for _ in range(TRIALS):
        await _trial(db, rng, tracks, identifies)
