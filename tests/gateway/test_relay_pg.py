"""Two gateways' relays on one PostgreSQL: each contact's events routed once, in order."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest

from gateway.relay import EventRouter, Relay
from store import Store
from store.records import EventRecord
from store.schema import events, route_claims
from tests.gateway.conftest import eventually
from tests.store.backends import pg_store
from workflows.models import Event

__all__ = ["pg_store"]


class SharedLog:
    """What both relays routed, in call order, with who routed it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

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

    routed = [message_id for _, _, message_id in log.calls]
    assert len(routed) == len(set(routed)) == 20 * 15  # every event, each once
    for contact in contacts:
        assert [m for _, c, m in log.calls if c == contact] == expected[contact]


async def _none_pending(store: Store) -> bool:
    return await store.events.pending_contacts() == []
