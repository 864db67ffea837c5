"""Computed fields follow appended events, once per event, and match a full recompute."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from store import Store
from store._sql import utc
from store.computed import recompute
from store.records import EventRecord
from store.schema import event_ranks, events
from store.segments import ladder
from store.segments.ladder import RANKS

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


async def test_concurrent_events_of_one_contact_all_land_and_keep_the_ladder_exact(
    db: Store,
) -> None:
    """Many calls at once for one contact (on PostgreSQL each its own transaction): every
    event is stored, and the recent-event ladder ranks them all. Without the per-contact lock
    two transactions both wrote rank 1 and one failed on ``event_ranks``'s key."""
    names = ("Page Viewed", "Product Viewed")
    calls = [ev(f"c{n}", names[n % 2], T0 + timedelta(minutes=n)) for n in range(40)]
    # Batches naming two contacts in opposite orders must not deadlock either.
    other = [
        e.model_copy(update={"contact_id": "u2", "message_id": f"o{e.message_id}"}) for e in calls
    ]
    batches = [[calls[n], other[n]] if n % 2 else [other[n], calls[n]] for n in range(40)]
    stored = await asyncio.gather(*(db.events.append_many(b) for b in batches))
    assert all(appended.new for batch in stored for appended in batch)
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    event_ranks.c.contact_id,
                    event_ranks.c.name,
                    event_ranks.c.rank,
                    event_ranks.c.happened_at,
                )
            )
        ).all()
    for contact, mine in (("u1", calls), ("u2", other)):
        for name in names:
            newest = sorted((e.timestamp for e in mine if e.name == name), reverse=True)
            ladder = sorted(
                (r.rank, utc(r.happened_at))
                for r in rows
                if (r.contact_id, r.name) == (contact, name)
            )
            assert ladder == list(enumerate(newest[:RANKS], start=1)), (contact, name)


async def _ladder(db: Store) -> list[tuple[str, str, int, datetime | None]]:
    r = event_ranks.c
    async with db.engine.connect() as conn:
        rows = (await conn.execute(sa.select(r.contact_id, r.name, r.rank, r.happened_at))).all()
    return sorted((row.contact_id, row.name, row.rank, utc(row.happened_at)) for row in rows)


async def test_the_per_event_refresh_ranks_as_the_full_backfill_does(db: Store) -> None:
    """Stored one by one, out of order, with ties in time (broken by arrival), a long history
    leaves the ladder the backfill would build from the whole log."""
    times = [T0 + timedelta(minutes=(n * 7) % 13) for n in range(3 * RANKS)]  # ties, disorder
    for n, at in enumerate(times):
        await db.events.append(ev(f"r{n}", "Page Viewed", at))
    incremental = await _ladder(db)
    assert [rank for _, _, rank, _ in incremental] == list(range(1, RANKS + 1))

    async with db.engine.begin() as conn:
        for stmt in ladder.backfill():
            await conn.execute(stmt)
    assert await _ladder(db) == incremental


async def test_known_tells_a_stored_message_id_from_a_new_one(db: Store) -> None:
    assert not await db.events.known("m-known")
    await db.events.append(ev("m-known", "Page Viewed", T0))
    assert await db.events.known("m-known")
    assert not await db.events.known("m-other")


async def test_a_contacts_first_event_of_each_kind_creates_the_profile_recompute_would(
    db: Store,
) -> None:
    """The event that creates a profile folds itself in as the same event would into an
    existing one: an open, a click, an order and any other event, each a contact's first."""
    firsts = {
        "u-open": ("Email Opened", {}),
        "u-click": ("Email Link Clicked", {}),
        "u-order": ("Order Completed", {"total": 42.5}),
        "u-other": ("Page Viewed", {}),
    }
    for contact_id, (name, props) in firsts.items():
        record = ev(f"first-{contact_id}", name, T0, **props)
        await db.events.append(record.model_copy(update={"contact_id": contact_id}))
    before = {c: await db.contacts.get(c) for c in firsts}
    async with db.engine.begin() as conn:
        await conn.execute(recompute(db.engine.dialect.name))
    for contact_id in firsts:
        after = await db.contacts.get(contact_id)
        assert after is not None and before[contact_id] is not None
        assert after.model_dump() == before[contact_id].model_dump()  # type: ignore[union-attr]
        assert utc(after.last_seen_at) == T0
    opened, clicked, ordered = (before[c] for c in ("u-open", "u-click", "u-order"))
    assert opened is not None and utc(opened.last_email_open_at) == T0
    assert clicked is not None and utc(clicked.last_email_click_at) == T0
    assert ordered is not None and (ordered.order_count, ordered.total_spent) == (1, 42.5)


async def test_mark_routed_stamps_exactly_the_given_events(db: Store) -> None:
    for n in range(4):
        await db.events.append(ev(f"r{n}", "Page Viewed", T0 + timedelta(minutes=n)))
    pending = await db.events.pending_for("u1")
    assert [p.message_id for p in pending] == ["r0", "r1", "r2", "r3"]
    at = T0 + timedelta(days=1)
    # Two calls at once (grouped into one transaction on SQLite), one event left unrouted.
    await asyncio.gather(
        db.events.mark_routed([pending[0].seq or 0, pending[2].seq or 0], at),
        db.events.mark_routed([pending[3].seq or 0], at),
    )
    assert [p.message_id for p in await db.events.pending_for("u1")] == ["r1"]
    marked = await db.events.get("r2")
    assert marked is not None and marked.routed_at == at


async def test_a_group_stores_what_the_same_events_one_by_one_would(db: Store) -> None:
    """One ``append_many`` (a single group, its statements shared on SQLite) against the same
    events appended one at a time, for two sets of contacts: the same outcomes, rows, computed
    fields and ladder, with duplicates (stored before, and twice within the group), a new
    contact, orders, opens, an anonymous profile linked to its user and events that check
    presence in between."""
    start = [("dup", "u1", "Page Viewed", {}, 0, ())]
    group = [
        ("a", "u1", "Page Viewed", {}, 5, ()),
        ("b", "u1", "Order Completed", {"total": 20.5}, 1, ()),
        ("dup", "u1", "Page Viewed", {}, 9, ()),
        ("c", "u2", "Email Opened", {}, 2, ("welcome",)),
        ("d", "u2", "Product Viewed", {}, 3, ()),
        ("b", "u1", "Order Completed", {"total": 20.5}, 1, ()),
        ("e", "anon:x", "Product Added", {}, 4, ()),
        ("f", "u3", "Order Completed", {"revenue": 7}, 6, ()),
        ("g", "u1", "Page Viewed", {}, 7, ()),
        ("h", "u2", "Email Opened", {}, 8, ()),
    ]

    def records(
        side: str, rows: list[tuple[Any, ...]]
    ) -> tuple[list[EventRecord], list[tuple[str, ...]]]:
        made = []
        for mid, contact, name, props, minutes, _ in rows:
            at = T0 + timedelta(minutes=minutes)
            owner = f"anon:{side}x" if contact == "anon:x" else f"{side}{contact}"
            made.append(
                ev(f"{side}{mid}", name, at, **props).model_copy(update={"contact_id": owner})
            )
        return made, [row[5] for row in rows]

    for side in ("g-", "s-"):
        await db.identities.link(f"{side}x", f"{side}u1", "anonymous", T0)
        first, _ = records(side, start)
        await db.events.append_many(first)
    grouped, journeys = records("g-", group)
    outcome_g = await db.events.append_many(grouped, unless_running=journeys)
    singles, journeys = records("s-", group)
    outcome_s = [
        (await db.events.append_many([r], unless_running=[j]))[0]
        for r, j in zip(singles, journeys, strict=True)
    ]
    assert outcome_g == outcome_s
    new = [True, True, False, True, True, False, True, True, True, True]
    assert [a.new for a in outcome_g] == new

    def mine(side: str, value: str) -> str | None:
        return value[len(side) :] if value.startswith(side) else None

    async with db.engine.connect() as conn:
        logged = (await conn.execute(sa.select(events).order_by(events.c.seq))).all()
        ranks = (await conn.execute(sa.select(event_ranks))).all()
    log = {
        side: [
            (mine(side, r.message_id), mine(side, r.contact_id), r.name, r.routed_at is None)
            for r in logged
            if r.message_id.startswith(side)
        ]
        for side in ("g-", "s-")
    }
    assert log["g-"] == log["s-"]
    assert ("e", "u1", "Product Added", True) in log["g-"]  # the linked user's now
    ladders = {
        side: sorted(
            (mine(side, r.contact_id), r.name, r.rank, utc(r.happened_at))
            for r in ranks
            if r.contact_id.startswith(side)
        )
        for side in ("g-", "s-")
    }
    assert ladders["g-"] == ladders["s-"] and ladders["g-"]
    for contact in ("u1", "u2", "u3"):
        g, s = await db.contacts.get(f"g-{contact}"), await db.contacts.get(f"s-{contact}")
        assert g is not None and s is not None
        assert g.model_dump(exclude={"id", "created_at", "updated_at"}) == s.model_dump(
            exclude={"id", "created_at", "updated_at"}
        )
    u1 = await db.contacts.get("g-u1")
    assert u1 is not None and (u1.order_count, u1.total_spent) == (1, 20.5)
