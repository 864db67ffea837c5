"""Events that journeys only listen to skip the relay while none of those journeys can be
running for the contact: stored as routed in the insert's transaction, never handed to the
router; and routed, in order, as soon as one may be running or an earlier event waits."""

from __future__ import annotations

import asyncio

import httpx
import sqlalchemy as sa

from gateway.relevance import Relevance
from journeys.segments import CATALOG
from store import Store
from store.schema import events
from tests.gateway.conftest import FakeRouter, eventually
from worker.registry import JOURNEYS

VIEWED = "Product Viewed"  # the cart journeys wait for it; no journey enters on it


async def _routed_at(store: Store, message_id: str) -> object:
    async with store.engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(events.c.routed_at).where(events.c.message_id == message_id)
            )
        ).scalar_one()


async def _track(client: httpx.AsyncClient, message_id: str, event: str = VIEWED) -> None:
    body = {"userId": "u-q", "event": event, "messageId": message_id}
    assert (await client.post("/v1/track", json=body)).status_code == 200


def test_the_shipped_journeys_make_product_viewed_quiet_and_entries_not() -> None:
    relevance = Relevance.of(JOURNEYS, CATALOG)
    listeners = relevance.only_if_running(VIEWED)
    assert {"cart_abandonment", "cart_escalation"} <= set(listeners)
    assert relevance(VIEWED)  # still relevant: a running cart journey gets it
    assert relevance.only_if_running("Signed Up") == ()  # an entry always goes to the relay
    assert relevance.only_if_running("Page Viewed") == ()  # nobody listens: not relevant at all


async def test_an_event_no_running_journey_listens_to_is_stored_routed_and_never_relayed(
    client: httpx.AsyncClient, store: Store, fake_router: FakeRouter
) -> None:
    await _track(client, "m-1")
    assert await _routed_at(store, "m-1") is not None
    # Proof the relay would have routed it, had it been waiting: an entry goes through.
    await _track(client, "m-entry", "Signed Up")
    await eventually(lambda: _has(fake_router, "m-entry"))
    assert "m-1" not in fake_router.message_ids


async def test_it_is_relayed_once_a_journey_that_listens_may_be_running(
    client: httpx.AsyncClient, store: Store, fake_router: FakeRouter
) -> None:
    await _track(client, "m-1")
    await store.presence.starting("cart_abandonment", "u-q")  # as the router does before a start
    await _track(client, "m-2")
    await eventually(lambda: _has(fake_router, "m-2"))
    assert fake_router.message_ids == ["m-2"]


async def test_it_waits_behind_an_earlier_unrouted_event_of_the_contact(
    client: httpx.AsyncClient, store: Store, fake_router: FakeRouter
) -> None:
    # The entry before it may start a journey that wants this event: it must follow, in order.
    fake_router.block = asyncio.Event()
    await _track(client, "m-entry", "Product Added")  # enters cart_abandonment
    await _track(client, "m-viewed")
    assert await _routed_at(store, "m-viewed") is None
    fake_router.block.set()
    await eventually(lambda: _has(fake_router, "m-viewed"))
    assert fake_router.message_ids == ["m-entry", "m-viewed"]


async def _has(router: FakeRouter, message_id: str) -> bool:
    return message_id in router.message_ids
