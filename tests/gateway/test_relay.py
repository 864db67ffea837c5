"""The relay: routes stored events in order, retries failures, never drops an event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from temporalio.service import RPCError, RPCStatusCode

from gateway.app import create_app
from gateway.relay import EventRouter, Relay
from store import Store
from store.records import EventRecord
from tests.gateway.conftest import FakeRouter, eventually
from worker.settings import Settings


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


# ---- per-contact lanes ---------------------------------------------------------------------------


class LaneRouter:
    """Records (contact, messageId) in call order; contacts in ``failing`` always fail, those
    in ``stuck`` hang until ``release`` is set; with ``gate`` the first call waits for a
    second contact to be routed beside it."""

    def __init__(
        self,
        failing: frozenset[str] = frozenset(),
        stuck: frozenset[str] = frozenset(),
        gate: bool = False,
    ) -> None:
        self.calls: list[tuple[str, str]] = []
        self.failing = set(failing)
        self.stuck = set(stuck)
        self.release = asyncio.Event()
        self.in_flight: set[str] = set()
        self.overlapped = False
        self.together = asyncio.Event()
        self.gate = gate

    async def route(self, contact_id: str, event: Any) -> None:
        self.in_flight.add(contact_id)
        try:
            if len(self.in_flight) > 1:
                self.overlapped = True
                self.together.set()
            elif self.gate and not self.calls:
                # The first call waits (boundedly) for a second contact to be routed beside
                # it: serial routing would never get there, and the test would say so.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.together.wait(), 10)
            if contact_id in self.stuck:
                await self.release.wait()
            if contact_id in self.failing:
                raise ValueError(f"{contact_id} is broken")
            await asyncio.sleep(0)  # let other lanes interleave
            self.calls.append((contact_id, event.message_id))
        finally:
            self.in_flight.discard(contact_id)

    def factory(self) -> Callable[[], Awaitable[EventRouter]]:
        async def make() -> EventRouter:
            return self

        return make

    def of(self, contact_id: str) -> list[str]:
        return [m for c, m in self.calls if c == contact_id]


async def _routed_ids(store: Store, message_ids: list[str]) -> bool:
    for message_id in message_ids:
        record = await store.events.get(message_id)
        if record is None or record.routed_at is None:
            return False
    return True


async def test_each_contact_keeps_its_order_while_contacts_route_in_parallel(
    store: Store,
) -> None:
    router = LaneRouter(gate=True)
    contacts = [f"u-{n}" for n in range(12)]
    expected: dict[str, list[str]] = {c: [] for c in contacts}
    for index in range(8):  # interleaved, as concurrent clients would send them
        for contact in contacts:
            message_id = f"{contact}-m{index}"
            await append(store, message_id, contact)
            expected[contact].append(message_id)

    relay = relay_for(store, router.factory(), interval=3600, batch_size=3, concurrency=4)
    async with running(relay):
        relay.kick(contacts)
        await eventually(lambda: all_routed(store))

    for contact in contacts:
        assert router.of(contact) == expected[contact]  # in order, each once
    assert router.overlapped  # several contacts were in flight at once


async def test_a_failing_contact_does_not_hold_back_the_others(
    store: Store, logs: list[dict[str, Any]]
) -> None:
    router = LaneRouter(failing=frozenset({"u-bad"}))
    await append(store, "bad-1", "u-bad")
    await append(store, "bad-2", "u-bad")
    await append(store, "good-1", "u-good")
    await append(store, "good-2", "u-good")

    relay = relay_for(store, router.factory(), interval=3600, concurrency=1)
    async with running(relay):
        relay.kick(["u-bad", "u-good"])  # the broken one first in line, on the only lane
        await eventually(lambda: _routed_ids(store, ["good-1", "good-2"]))
        assert relay.failures == 0  # not "Temporal unreachable": only that contact backs off
        assert [e.message_id for e in await store.events.pending_for("u-bad")] == [
            "bad-1",
            "bad-2",
        ]
        router.failing.clear()  # fixed: its events follow, in their order
        await eventually(lambda: all_routed(store))

    assert router.of("u-good") == ["good-1", "good-2"]
    assert router.of("u-bad") == ["bad-1", "bad-2"]
    failures = [e for e in logs if e["log_level"] == "error"]
    assert failures and all(e["message_id"] == "bad-1" for e in failures)


async def test_a_hanging_contact_does_not_hold_back_the_others(store: Store) -> None:
    router = LaneRouter(stuck=frozenset({"u-slow"}))
    await append(store, "slow-1", "u-slow")
    await append(store, "fast-1", "u-fast")

    relay = relay_for(store, router.factory(), interval=3600, concurrency=2, stop_grace=0.1)
    async with running(relay):
        relay.kick(["u-slow", "u-fast"])
        await eventually(lambda: _routed_ids(store, ["fast-1"]))
        assert (await store.events.get("slow-1")).routed_at is None  # type: ignore[union-attr]
        router.release.set()
        await eventually(lambda: all_routed(store))


async def test_a_large_backlog_yields_its_lane_to_other_contacts(store: Store) -> None:
    router = LaneRouter()
    for index in range(60):
        await append(store, f"big-{index}", "u-big")
    await append(store, "small-1", "u-small")

    relay = relay_for(store, router.factory(), interval=3600, batch_size=10, concurrency=1)
    async with running(relay):
        relay.kick(["u-big", "u-small"])
        await eventually(lambda: all_routed(store))

    order = [m for _, m in router.calls]
    # One lane: the small contact got it after the big one's first batch, not after all 60.
    assert order.index("small-1") == 10
    assert router.of("u-big") == [f"big-{i}" for i in range(60)]


async def test_temporal_down_holds_every_contact_and_loses_nothing(store: Store) -> None:
    unavailable = RPCError("tcp connect error", RPCStatusCode.UNAVAILABLE, b"")
    router = FakeRouter(failures=6, error=unavailable)
    for index in range(4):
        for contact in ("u-a", "u-b", "u-c"):
            await append(store, f"{contact}-{index}", contact)

    relay = relay_for(store, router.factory())
    async with running(relay):
        await eventually(lambda: all_routed(store))  # found by the catch-up, no kick

    for contact in ("u-a", "u-b", "u-c"):
        routed = [e.message_id for c, e in router.calls if c == contact]
        assert routed == [f"{contact}-{i}" for i in range(4)]
    assert relay.failures == 0


async def test_a_kick_with_contacts_routes_them_without_waiting_for_a_scan(
    store: Store,
) -> None:
    router = LaneRouter()
    relay = relay_for(store, router.factory(), interval=3600)
    async with running(relay):
        await append(store, "m-direct", "u-direct")
        relay.kick(["u-direct"])
        await eventually(lambda: all_routed(store))

    assert router.calls == [("u-direct", "m-direct")]
    assert await relay.claims.holder("u-direct") is None  # released after the turn


async def test_the_gateway_routes_as_many_contacts_at_once_as_its_settings_say(
    fast_settings: Settings, store: Store, fake_router: FakeRouter
) -> None:
    app = create_app(
        fast_settings.model_copy(update={"relay_concurrency": 7}),
        store=store,
        router_factory=fake_router.factory(),
    )
    async with app.router.lifespan_context(app):
        relay: Relay = app.state.relay
        assert relay.concurrency == 7
        lanes = [t for t in asyncio.all_tasks() if t.get_name().startswith("sojourn-relay-lane-")]
        assert len(lanes) == 7
