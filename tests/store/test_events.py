"""Computed fields follow appended events, once per event, and match a full recompute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store import Store
from store.computed import recompute
from store.records import EventRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(mid: str, name: str, at: datetime, **props: object) -> EventRecord:
    return EventRecord(
        message_id=mid,
        contact_id="u1",
        name=name,
        properties=props,
        timestamp=at,
        received_at=at,
    )


async def test_append_updates_computed_fields_once(db: Store) -> None:
    await db.events.append(ev("m1", "Order Completed", T0, total=120.5, revenue=100))
    await db.events.append(ev("m2", "Order Completed", T0 - timedelta(days=3), revenue=30))
    assert not await db.events.append(ev("m2", "Order Completed", T0, revenue=30))  # duplicate
    await db.events.append(ev("m3", "Email Opened", T0 + timedelta(hours=1)))
    await db.events.append(ev("m4", "Email Link Clicked", T0 - timedelta(days=1)))
    c = await db.contacts.get("u1")
    assert c is not None
    assert (c.order_count, c.total_spent) == (2, 150.5)
    assert c.first_order_at == T0 - timedelta(days=3)
    assert c.last_order_at == T0
    assert c.last_email_open_at == T0 + timedelta(hours=1)
    assert c.last_email_click_at == T0 - timedelta(days=1)
    assert c.last_seen_at == T0 + timedelta(hours=1)


async def test_recompute_matches_incremental(db: Store) -> None:
    await db.events.append(ev("m1", "Order Completed", T0, total=10))
    await db.events.append(ev("m2", "Order Completed", T0 + timedelta(days=1), total="oops"))
    await db.events.append(ev("m3", "Email Opened", T0))
    before = await db.contacts.get("u1")
    async with db.engine.begin() as conn:
        await conn.execute(recompute(db.engine.dialect.name))
    after = await db.contacts.get("u1")
    assert before is not None and after is not None
    assert after.model_dump() == before.model_dump()
    assert (after.order_count, after.total_spent) == (2, 10.0)
