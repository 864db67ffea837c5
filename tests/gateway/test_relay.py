"""The relay: routes stored events in order, retries failures, never drops an event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from temporalio.service import RPCError, RPCStatusCode

from gateway.relay import EventRouter, Relay
from store import Store
from store.records import EventRecord
from tests.gateway.conftest import FakeRouter, eventually


async def append(store: Store, message_id: str, contact_id: str = "u-r", **extra: object) -> None:
    now = datetime.now(UTC)
    record = EventRecord(
        message_id=message_id,
        contact_id=contact_id,
        name="Signed Up",
        timestamp=now,
        received_at=now,
        **extra,
    )
    assert await store.events.append(record)


async def all_routed(store: Store) -> bool:
    return await store.events.unrouted() == []


@asynccontextmanager
async def running(relay: Relay) -> AsyncIterator[Relay]:
    relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


def relay_for(
    store: Store, factory: Callable[[], Awaitable[EventRouter]], **options: object
) -> Relay:
    options = {"interval": 0.05, **options}
    return Relay(store, factory, **options)  # type: ignore[arg-type]


async def test_routes_in_order_and_marks_routed(store: Store) -> None:
    router = FakeRouter()
    for index in range(5):
        await append(store, f"m-{index}", properties={"n": index})

    async with running(relay_for(store, router.factory(), batch_size=2)):
        await eventually(lambda: all_routed(store))

    assert router.message_ids == [f"m-{i}" for i in range(5)]
    assert [event.properties for _, event in router.calls] == [{"n": i} for i in range(5)]
    assert all(record.routed_at for record in await store.events.for_contact("u-r"))


async def test_failure_retries_the_same_event_and_keeps_order(
    store: Store, logs: list[dict[str, Any]]
) -> None:
    unavailable = RPCError("tcp connect error", RPCStatusCode.UNAVAILABLE, b"")
    router = FakeRouter(failures=3, error=unavailable)
    await append(store, "m-a")
    await append(store, "m-b")

    relay = relay_for(store, router.factory())
    async with running(relay):
        await eventually(lambda: all_routed(store))

    assert router.message_ids == ["m-a", "m-b"]  # nothing dropped, nothing overtaken
    assert router.attempts == 5
    assert relay.failures == 0  # recovered
    retries = [entry for entry in logs if entry["log_level"] == "warning"]
    assert len(retries) == 3
    assert all(e["message_id"] == "m-a" and e["contact_id"] == "u-r" for e in retries)
    assert "UNAVAILABLE" in retries[0]["error"]


async def test_failure_log_carries_ids_not_personal_data(
    store: Store, logs: list[dict[str, Any]]
) -> None:
    router = FakeRouter(failures=1, error=ValueError("boom"))
    await append(store, "m-p", properties={"email": "ada@example.com"})

    async with running(relay_for(store, router.factory())):
        await eventually(lambda: all_routed(store))

    [failure] = [entry for entry in logs if entry["log_level"] == "error"]
    assert (failure["contact_id"], failure["message_id"]) == ("u-r", "m-p")
    assert "ada@example.com" not in str(failure)


async def test_connect_failure_is_retried_until_temporal_answers(store: Store) -> None:
    router = FakeRouter()
    attempts = 0

    async def flaky_connect() -> EventRouter:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise RuntimeError("Failed client connect: connection refused")
        return router

    await append(store, "m-c")
    relay = relay_for(store, flaky_connect)
    async with running(relay):
        await eventually(lambda: all_routed(store))
        assert relay.connected

    assert attempts == 3
    assert router.message_ids == ["m-c"]


async def test_kick_wakes_the_relay_before_the_next_poll(store: Store) -> None:
    router = FakeRouter()
    await append(store, "m-first")
    # An hour between polls: only a kick can get the second event routed within the test.
    relay = relay_for(store, router.factory(), interval=3600)
    async with running(relay):
        # Routed by the first pass, which read the log before the second event existed.
        await eventually(lambda: all_routed(store))
        await append(store, "m-k")
        relay.kick()
        await eventually(lambda: all_routed(store))

    assert router.message_ids == ["m-first", "m-k"]


async def test_stop_cancels_a_stuck_route_and_keeps_the_event(store: Store) -> None:
    router = FakeRouter()
    router.block = asyncio.Event()  # never set: Temporal hangs
    await append(store, "m-s")
    relay = relay_for(store, router.factory(), stop_grace=0.1)

    relay.start()
    await eventually(lambda: _attempted(router))
    await asyncio.wait_for(relay.stop(), 60)

    assert not relay.running
    assert [e.message_id for e in await store.events.unrouted()] == ["m-s"]


async def _attempted(router: FakeRouter) -> bool:
    return router.attempts > 0


async def test_stop_is_idempotent_and_restartable(store: Store) -> None:
    router = FakeRouter()
    relay = relay_for(store, router.factory())
    await relay.stop()  # never started
    async with running(relay):
        pass
    await append(store, "m-again")
    async with running(relay):
        await eventually(lambda: all_routed(store))
    await relay.stop()

    assert router.message_ids == ["m-again"]


async def test_an_event_temporal_refuses_for_good_does_not_hold_back_the_others(
    store: Store,
) -> None:
    too_big = RPCError("Blob data size exceeds limit", RPCStatusCode.INVALID_ARGUMENT, b"")
    router = FakeRouter(failures=1, error=too_big)
    await append(store, "m-poison")
    await append(store, "m-next")

    relay = relay_for(store, router.factory())
    async with running(relay):
        await eventually(lambda: all_routed(store))

    assert router.message_ids == ["m-next"]
    poison = await store.events.get("m-poison")
    assert poison is not None and poison.routed_at is not None
    assert poison.route_error == "INVALID_ARGUMENT: Blob data size exceeds limit"
    assert (await store.events.get("m-next")).route_error is None  # type: ignore[union-attr]
