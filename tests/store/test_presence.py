"""Journey presence: Temporal's "not running" is remembered until a start is counted, on both
backends, and a start racing that answer always wins."""

from __future__ import annotations

import asyncio

from store import Store
from store.schema import journey_presence


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
