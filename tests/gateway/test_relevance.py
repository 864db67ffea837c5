"""The relay skips events nobody listens to: they are stored as routed at once."""

from __future__ import annotations

import httpx

from gateway.relevance import Relevance
from journeys.registry import ALL
from journeys.segments import CATALOG
from store import Store
from store.segments import Catalog
from store.segments.rules import did, trait
from tests.gateway.conftest import FakeRouter, eventually


def test_the_shipped_journeys_and_segments_decide_what_is_relayed() -> None:
    relevance = Relevance.of(ALL, CATALOG)
    # Entries, goals, waits and consent exits of the journeys; events the segments count.
    for name in ("Signed Up", "Order Completed", "Email Opened", "Unsubscribed", "Product Added"):
        assert relevance(name), name
    assert not relevance("Page Viewed")
    assert not relevance("Video Paused")


def test_a_rule_on_last_seen_makes_every_event_relayed() -> None:
    seen = Catalog(segments={"active": trait("last_seen_at", "within", days=7)})
    assert Relevance.of([], seen)("Video Paused")
    counted = Catalog(segments={"watchers": did("Video Paused", at_least=3, days=30)})
    relevance = Relevance.of([], counted)
    assert relevance("Video Paused") and not relevance("Page Viewed")


async def test_an_unheard_event_is_stored_routed_and_a_heard_one_is_relayed(
    client: httpx.AsyncClient, store: Store, fake_router: FakeRouter
) -> None:
    calls = [
        {"type": "track", "userId": "u-r", "event": "Page Viewed", "messageId": "r-1"},
        {"type": "track", "userId": "u-r", "event": "Order Completed", "messageId": "r-2"},
    ]
    assert (await client.post("/v1/batch", json={"batch": calls})).status_code == 200

    async def relayed() -> bool:
        return "r-2" in fake_router.message_ids

    await eventually(relayed)
    browsing = await store.events.get("r-1")
    assert browsing is not None and browsing.routed_at is not None
    assert "r-1" not in fake_router.message_ids
    assert await store.events.unrouted() == []
