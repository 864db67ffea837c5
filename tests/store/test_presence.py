"""Journey presence: Temporal's "not running" is remembered until a start is counted, on both
backends, and a start racing that answer always wins."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from store import Store
from store.presence import NEVER_STARTED
from store.records import EventRecord
from store.schema import journey_presence, presence_since

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def _clear(db: Store) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(journey_presence.delete())


async def test_unknown_until_temporal_says_not_running_then_absent_until_a_start(
    db: Store,
) -> None:
    await _clear(db)
    presence = db.presence
    assert await presence.of("c-1", ["cart"]) == {}  # unknown: the router signals

    await presence.not_running("cart", "c-1", None)
    [(name, known)] = (await presence.of("c-1", ["cart", "welcome"])).items()
    assert name == "cart" and known.absent

    await presence.starting("cart", "c-1")
    known = (await presence.of("c-1", ["cart"]))["cart"]
    assert not known.absent and known.starts == 1
    # Other contacts and journeys are untouched.
    assert await presence.of("c-2", ["cart"]) == {}

    await presence.not_running("cart", "c-1", known.starts)  # the run ended, later
    assert (await presence.of("c-1", ["cart"]))["cart"].absent


async def test_a_start_counted_after_the_read_beats_the_not_running_answer(db: Store) -> None:
    await _clear(db)
    presence = db.presence
    # A relay reads "unknown", signals, gets NOT_FOUND; meanwhile a hand-over counts a start
    # (first ever) and starts the journey. The late answer must not hide the new run.
    await presence.starting("cart", "c-1")
    await presence.not_running("cart", "c-1", None)
    assert not (await presence.of("c-1", ["cart"]))["cart"].absent

    # The same with a row already there: read starts=1, a second start counts 2, answer late.
    read = (await presence.of("c-1", ["cart"]))["cart"].starts
    await presence.starting("cart", "c-1")
    await presence.not_running("cart", "c-1", read)
    known = (await presence.of("c-1", ["cart"]))["cart"]
    assert known.starts == 2 and not known.absent


async def test_concurrent_starts_are_all_counted(db: Store) -> None:
    await _clear(db)
    await asyncio.gather(*(db.presence.starting("cart", "c-race") for _ in range(8)))
    assert (await db.presence.of("c-race", ["cart"]))["cart"].starts == 8


async def _set_since(db: Store, since: datetime | None) -> Store:
    """A store (its own caches) on ``db``'s database, presence complete from ``since``."""
    async with db.engine.begin() as conn:
        await conn.execute(presence_since.update().values(since=since))
    return Store(db.engine)


async def test_a_fresh_database_knows_a_contact_without_rows_never_started_a_journey(
    db: Store,
) -> None:
    await _clear(db)
    await db.contacts.ensure("c-new", T0)
    known = await db.presence.of("c-new", ["cart", "welcome"])
    assert known == {"cart": NEVER_STARTED, "welcome": NEVER_STARTED}

    await db.presence.starting("cart", "c-new")
    known = await db.presence.of("c-new", ["cart", "welcome"])
    assert not known["cart"].absent and known["welcome"].absent
    # No profile at all: nothing is known (the router asks Temporal).
    assert await db.presence.of("c-nobody", ["cart"]) == {}


async def test_after_an_upgrade_only_contacts_first_seen_later_are_complete(db: Store) -> None:
    await _clear(db)
    await db.contacts.ensure("c-old", T0)
    await db.contacts.ensure("c-later", T0 + timedelta(days=2))
    upgraded = await _set_since(db, T0 + timedelta(days=1))
    try:
        # c-old may have journeys started before starts were counted: unknown.
        assert await upgraded.presence.of("c-old", ["cart"]) == {}
        assert await upgraded.presence.of("c-later", ["cart"]) == {"cart": NEVER_STARTED}
        # Temporal's answer still makes an old contact's journey known.
        await upgraded.presence.not_running("cart", "c-old", None)
        assert (await upgraded.presence.of("c-old", ["cart"]))["cart"].absent
    finally:
        await _set_since(db, None)


async def _quiet(db: Store, contact_id: str, journeys: list[str]) -> bool:
    async with db.engine.begin() as conn:
        return await db.presence.quiet(conn, contact_id, journeys)


async def test_an_event_is_quiet_only_without_a_possibly_running_journey_or_a_pending_event(
    db: Store,
) -> None:
    await _clear(db)
    await db.contacts.ensure("c-q", T0)
    assert await _quiet(db, "c-q", ["cart", "cart_escalation"])

    await db.presence.starting("cart", "c-q")  # maybe running now
    assert not await _quiet(db, "c-q", ["cart", "cart_escalation"])
    assert await _quiet(db, "c-q", ["cart_escalation"])
    await db.presence.not_running("cart", "c-q", 1)
    assert await _quiet(db, "c-q", ["cart", "cart_escalation"])

    # An unrouted event first (an entry on its way to start a journey): this one follows it.
    await db.events.append(
        EventRecord(
            message_id="m-entry",
            contact_id="c-q",
            name="Product Added",
            timestamp=T0,
            received_at=T0,
        )
    )
    assert not await _quiet(db, "c-q", ["cart"])
    [pending] = await db.events.pending_for("c-q")
    await db.events.mark_routed([pending.seq or 0])
    assert await _quiet(db, "c-q", ["cart"])


async def test_after_an_upgrade_an_old_contact_is_quiet_only_once_every_journey_is_known(
    db: Store,
) -> None:
    await _clear(db)
    await db.contacts.ensure("c-old", T0)
    upgraded = await _set_since(db, T0 + timedelta(days=1))
    try:
        assert not await _quiet(upgraded, "c-old", ["cart", "cart_escalation"])
        await upgraded.presence.not_running("cart", "c-old", None)
        assert not await _quiet(upgraded, "c-old", ["cart", "cart_escalation"])
        await upgraded.presence.not_running("cart_escalation", "c-old", None)
        assert await _quiet(upgraded, "c-old", ["cart", "cart_escalation"])
    finally:
        await _set_since(db, None)
