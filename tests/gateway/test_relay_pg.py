"""Two gateways on one PostgreSQL: each contact's events routed once, in order.

First two relays over two engines, fed by the store; then two whole gateway apps, each with
its engine and relay, taking the calls over HTTP the way a load balancer spreads them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest

from gateway.app import create_app
from gateway.relay import EventRouter, Relay
from store import Store
from store.records import EventRecord
from store.schema import events, route_claims
from tests.gateway.conftest import eventually
from tests.store.backends import pg_store
from worker.settings import Settings
from workflows.models import Event

__all__ = ["pg_store"]

KEY = "wk-two-gateways"
# Events some journey listens to (welcome's engagement), so the relays route them.
ROUTED = ("Email Opened", "Email Link Clicked")


class SharedLog:
    """What both relays routed, in call order, with who routed it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def assert_each_once_in_order(self, expected: dict[str, list[str]]) -> None:
        """Every expected event routed, none twice, each contact's in the order sent."""
        routed = [message_id for _, _, message_id in self.calls]
        assert len(routed) == len(set(routed))
        assert set(routed) == {m for ids in expected.values() for m in ids}
        for contact, ids in expected.items():
            assert [m for _, c, m in self.calls if c == contact] == ids

    def router(self, relay: str) -> Callable[[], Awaitable[EventRouter]]:
        log = self

        class Recording:
            async def route(self, contact_id: str, event: Event) -> None:
                # A little jitter, so the two relays interleave and race for contacts.
                await asyncio.sleep(random.random() / 500)
                log.calls.append((relay, contact_id, event.message_id))

        async def make() -> EventRouter:
            return Recording()

        return make


@pytest.fixture
async def pg(pg_store: Store | str) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores (two engines, as two gateway processes have) on one PostgreSQL database."""
    if isinstance(pg_store, str):
        pytest.skip(pg_store)
    async with pg_store.engine.begin() as conn:
        await conn.execute(events.delete())
        await conn.execute(route_claims.delete())
    url = pg_store.engine.url.render_as_string(hide_password=False)
    one, two = Store.from_url(url), Store.from_url(url)
    yield one, two
    await one.close()
    await two.close()


async def test_two_relays_route_each_contact_once_and_in_order(
    pg: tuple[Store, Store],
) -> None:
    one, two = pg
    log = SharedLog()
    contacts = [f"pg-{n}" for n in range(20)]
    expected: dict[str, list[str]] = {c: [] for c in contacts}
    relays = [
        Relay(one, log.router("A"), interval=0.05, batch_size=3, concurrency=4),
        Relay(two, log.router("B"), interval=0.05, batch_size=3, concurrency=4),
    ]
    for relay in relays:
        relay.start()
    try:
        # Both gateways accept events for the same contacts while both relays run and are
        # kicked for every event, as behind a load balancer.
        for index in range(15):
            for n, contact in enumerate(contacts):
                gateway = (one, two)[(index + n) % 2]
                message_id = f"{contact}-{index}"
                now = datetime.now(UTC)
                await gateway.events.append(
                    EventRecord(
                        message_id=message_id,
                        contact_id=contact,
                        name="Page Viewed",
                        timestamp=now,
                        received_at=now,
                    )
                )
                expected[contact].append(message_id)
                for relay in relays:
                    relay.kick([contact])
        await eventually(lambda: _none_pending(one))
    finally:
        for relay in relays:
            await relay.stop()

    log.assert_each_once_in_order(expected)
    assert len(log.calls) == 20 * 15


async def _none_pending(store: Store) -> bool:
    return await store.events.pending_contacts() == []


async def test_two_gateway_apps_over_http_route_each_call_once_and_in_order(
    pg: tuple[Store, Store], fast_settings: Settings
) -> None:
    one, _ = pg
    url = one.engine.url.render_as_string(hide_password=False)
    settings = fast_settings.model_copy(update={"database_url": url, "write_keys": [KEY]})
    log = SharedLog()
    apps = [create_app(settings, router_factory=log.router(name)) for name in ("A", "B")]
    contacts = [f"http-{n}" for n in range(10)]
    expected: dict[str, list[str]] = {c: [] for c in contacts}
    async with (
        apps[0].router.lifespan_context(apps[0]),
        apps[1].router.lifespan_context(apps[1]),
    ):
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app), base_url="http://gw", auth=(KEY, "")
            )
            for app in apps
        ]
        try:
            for index in range(8):
                # Each round's calls go out at once, spread over both gateways; a contact's
                # next call is only sent once its previous one was answered (an SDK's order).
                sends = []
                for n, contact in enumerate(contacts):
                    message_id = f"{contact}-{index}"
                    expected[contact].append(message_id)
                    body = {"userId": contact, "event": ROUTED[index % 2], "messageId": message_id}
                    sends.append(clients[(index + n) % 2].post("/v1/track", json=body))
                answers = await asyncio.gather(*sends)
                assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
            await eventually(lambda: _none_pending(one))
        finally:
            for client in clients:
                await client.aclose()

    log.assert_each_once_in_order(expected)
    assert len(log.calls) == 10 * 8
    assert {relay for relay, _, _ in log.calls} == {"A", "B"}  # both gateways routed some
