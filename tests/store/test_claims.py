"""Route claims: one relay per contact at a time, released or lapsed, on both backends."""

from __future__ import annotations

import asyncio

from store import Store
from store.claims import RouteClaims
from store.schema import route_claims


async def _clear(db: Store) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(route_claims.delete())


async def test_a_claim_is_exclusive_until_released(db: Store) -> None:
    await _clear(db)
    one, two = RouteClaims(db.engine, "relay-1"), RouteClaims(db.engine, "relay-2")

    assert await one.claim("c-1")
    assert not await two.claim("c-1")  # held by relay-1
    assert await two.claim("c-2")  # other contacts are free
    assert await one.claim("c-1")  # renewing our own claim
    assert await one.holder("c-1") == "relay-1"

    await two.release("c-1")  # not ours: nothing happens
    assert await one.holder("c-1") == "relay-1"
    await one.release("c-1")
    assert await one.holder("c-1") is None
    assert await two.claim("c-1")


async def test_a_crashed_relays_claim_lapses(db: Store) -> None:
    await _clear(db)
    crashed = RouteClaims(db.engine, "relay-crashed", ttl=0.05)
    assert await crashed.claim("c-1")
    await asyncio.sleep(0.1)  # it never renews or releases

    alive = RouteClaims(db.engine, "relay-alive")
    assert await alive.claim("c-1")
    assert await alive.holder("c-1") == "relay-alive"


async def test_concurrent_claims_on_one_contact_have_one_winner(db: Store) -> None:
    await _clear(db)
    relays = [RouteClaims(db.engine, f"relay-{n}") for n in range(8)]
    won = await asyncio.gather(*(relay.claim("c-race") for relay in relays))
    assert sum(won) == 1
