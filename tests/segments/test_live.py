"""Real-time segment entry on a dev-server stack: Temporal dev server, worker, gateway + relay.

A trait update that makes a contact VIP and an event that makes them an engaged buyer each
start the segment's journey within seconds (no enrollment scan runs here at all); an order
takes a contact out of the cart abandoners and their journey gets ``Segment Left`` and ends; a
second qualifying event while enrolled starts nothing. Waits are bounded and generous; the
seconds it took are printed, not asserted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.segments import SegmentActivities
from gateway.app import create_app
from journeys.segments import CATALOG
from store import Store
from store.schema import segment_enrollments
from tests.conftest import binary
from tests.ports import free_port
from tests.privacy.conftest import WRITE_AUTH
from tests.segments.journey_fixture import CartProbe, EngagedProbe, VipProbe
from worker.settings import Settings
from workflows import search
from workflows.routing import Router
from workflows.search import DEV_KEYS

WAIT = 60.0
PROBES = [VipProbe, EngagedProbe, CartProbe]


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        port=free_port(),
        dev_server_existing_path=binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(search.ALL),
        ui=False,
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def http(
    dev_server: WorkflowEnvironment, settings: Settings, store: Store
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings.model_copy(update={"relay_interval_seconds": 0.05})
    router = Router(dev_server.client, PROBES, settings.task_queue)

    async def factory() -> Router:
        return router

    app = create_app(settings, store=store, router_factory=factory)
    worker = Worker(
        dev_server.client,
        task_queue=settings.task_queue,
        workflows=PROBES,
        activities=SegmentActivities(store, CATALOG, router).all(),
    )
    transport = httpx.ASGITransport(app)
    async with (
        worker,
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gw", headers=WRITE_AUTH) as http,
    ):
        yield http


async def until(what: str, check: Callable[[], Awaitable[Any]]) -> float:
    """Seconds until ``check`` is truthy (fails after WAIT)."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > WAIT:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def running(client: Client, journey: str, contact_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            handle = client.get_workflow_handle(DEV_KEYS.workflow_id(journey, contact_id))
            return (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        except RPCError:
            return False

    return check


async def track(http: httpx.AsyncClient, user: str, event: str, **props: Any) -> None:
    answer = await http.post(
        "/v1/track", json={"userId": user, "event": event, "properties": props}
    )
    assert answer.status_code == 200, answer.text


async def enrollments(store: Store, contact_id: str) -> list[str]:
    query = segment_enrollments.select().where(segment_enrollments.c.contact_id == contact_id)
    async with store.engine.connect() as conn:
        return [row.journey for row in (await conn.execute(query)).all()]


async def recorded(store: Store, contact_id: str, journeys: list[str]) -> bool:
    return await enrollments(store, contact_id) == journeys


async def test_a_trait_update_makes_a_vip_and_starts_the_journey(
    dev_server: WorkflowEnvironment, http: httpx.AsyncClient, store: Store
) -> None:
    await track(http, "vip-1", "Order Completed", total=600)
    old = (datetime.now(UTC) - timedelta(days=3 * 365)).isoformat()
    assert not await running(dev_server.client, "test_vip", "vip-1")()
    answer = await http.post("/v1/identify", json={"userId": "vip-1", "traits": {"createdAt": old}})
    assert answer.status_code == 200
    took = await until("the VIP journey", running(dev_server.client, "test_vip", "vip-1"))
    print(f"trait update -> VIP journey running in {took:.2f} s")  # noqa: T201
    # The keeper starts the journey, then records the enrollment: the record may trail.
    await until("the VIP enrollment", lambda: recorded(store, "vip-1", ["test_vip"]))


async def test_an_event_makes_an_engaged_buyer_once(
    dev_server: WorkflowEnvironment, http: httpx.AsyncClient, store: Store
) -> None:
    for _ in range(3):
        await track(http, "eb-1", "Email Opened")
    await asyncio.sleep(0.5)
    assert not await running(dev_server.client, "test_engaged", "eb-1")()
    await track(http, "eb-1", "Order Completed", total=20)
    took = await until(
        "the engaged-buyer journey", running(dev_server.client, "test_engaged", "eb-1")
    )
    print(f"event -> engaged-buyer journey running in {took:.2f} s")  # noqa: T201
    handle = dev_server.client.get_workflow_handle(DEV_KEYS.workflow_id("test_engaged", "eb-1"))
    first = (await handle.describe()).run_id
    # Still a member: another qualifying event is no crossing and starts nothing.
    await track(http, "eb-1", "Order Completed", total=30)
    await until("the relay", lambda: all_routed(store))
    assert (await handle.describe()).run_id == first
    assert await enrollments(store, "eb-1") == ["test_engaged"]


async def test_leaving_sends_segment_left(
    dev_server: WorkflowEnvironment, http: httpx.AsyncClient, store: Store
) -> None:
    await track(http, "cart-1", "Product Added", sku="s-1")
    await until("the cart journey", running(dev_server.client, "test_cart", "cart-1"))
    await track(http, "cart-1", "Order Completed", total=40)
    handle = dev_server.client.get_workflow_handle(DEV_KEYS.workflow_id("test_cart", "cart-1"))

    async def ended() -> bool:
        return (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

    took = await until("the cart journey to end on Segment Left", ended)
    print(f"order -> Segment Left -> journey ended in {took:.2f} s")  # noqa: T201
    signals = [
        e.workflow_execution_signaled_event_attributes.input
        for e in (await handle.fetch_history()).events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert any(b"Segment Left" in p.data for s in signals for p in s.payloads)
    assert await enrollments(store, "cart-1") == []


async def all_routed(store: Store) -> bool:
    return await store.events.unrouted() == []
