"""The official ``segment-analytics-python`` client, unchanged but for ``host`` and a write key,
against a real gateway (uvicorn on 127.0.0.1) with a real worker on the time-skipping server.

Every call type, an anonymous visitor who signs up, gzip on and off, one batch and sync mode:
all calls stored, the sign-up starts welcome; a wrong key is a 401 the SDK reports.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from segment.analytics.client import Client
from segment.analytics.request import APIError
from temporalio.testing import WorkflowEnvironment

from activities.policy import MessagingPolicy
from activities.providers.outbox import OutboxProvider
from gateway.app import create_app
from store import Store
from store.identities import anonymous_contact
from tests.messaging.fake_providers import serve_app
from tests.messaging.test_journeys import worker
from worker.settings import Settings
from workflows.routing import Router
from workflows.search import DEV_KEYS

KEY = "wk-sdk-test"
WAIT = 60.0


@asynccontextmanager
async def stack(
    env: WorkflowEnvironment, store: Store, settings: Settings, outbox: Path
) -> AsyncIterator[str]:
    """Worker (outbox provider) and gateway on a free port; yields the gateway's URL."""
    policy = MessagingPolicy.from_settings(settings)
    # The worker the messaging tests use (journeys, send activities, hand-offs).
    provider = OutboxProvider(outbox)
    async with worker(env, store, settings.task_queue, provider, policy) as router:
        gateway_settings = settings.model_copy(
            update={"write_keys": [KEY], "relay_interval_seconds": 0.05}
        )

        async def router_factory() -> Router:
            return router

        app = create_app(gateway_settings, store=store, router_factory=router_factory)
        async with serve_app(app, lifespan="on") as base:
            yield base


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def drive(client: Client, user: str, ids: dict[str, str]) -> None:
    """Every call type, as an app would make them (runs in a thread: the SDK blocks)."""
    visitor, other = f"anon-{user}", f"anon2-{user}"
    client.track(
        anonymous_id=visitor,
        event="Product Added",
        properties={"sku": "s-1"},
        message_id=ids["added"],
    )
    client.page(anonymous_id=visitor, name="Pricing", category="Shop", message_id=ids["page"])
    client.track(anonymous_id=other, event="Product Viewed", message_id=ids["viewed"])
    client.identify(
        user,
        {"email": f"{user}@example.com", "firstName": "Ada"},
        anonymous_id=visitor,
        message_id=ids["identify"],
    )
    client.track(user, "Signed Up", {"plan": "free"}, message_id=ids["signup"])
    client.screen(user, name="Home", message_id=ids["screen"])
    client.group(user, "acme", {"name": "Acme"}, message_id=ids["group"])
    client.alias(other, user, message_id=ids["alias"])
    client.flush()


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("sync_mode", [False, True], ids=["batch", "sync"])
async def test_official_python_sdk_delivers_every_call(
    time_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    tmp_path: Path,
    gzip: bool,
    sync_mode: bool,
) -> None:
    user = f"sdk-{uuid.uuid4().hex[:8]}"
    names = ("added", "page", "viewed", "identify", "signup", "screen", "group", "alias")
    ids = {name: f"{user}-{name}" for name in names}
    errors: list[Exception] = []
    async with stack(time_env, store, settings, tmp_path / "outbox") as base:
        client = Client(
            KEY,
            host=base,
            gzip=gzip,
            sync_mode=sync_mode,
            on_error=lambda error, _batch: errors.append(error),
            upload_interval=0.5,
            max_retries=0,
        )
        try:
            await asyncio.to_thread(drive, client, user, ids)
        finally:
            if not sync_mode:  # the SDK's shutdown() fails in sync mode (no consumers)
                await asyncio.to_thread(client.shutdown)
        assert errors == []

        stored = {name: await store.events.get(mid) for name, mid in ids.items()}
        assert all(stored.values()), [name for name, event in stored.items() if event is None]
        # The anonymous history is the user's now; both anonymous profiles are gone.
        assert {event.contact_id for event in stored.values()} == {user}
        assert await store.contacts.get(anonymous_contact(f"anon-{user}")) is None
        assert await store.contacts.get(anonymous_contact(f"anon2-{user}")) is None
        contact = await store.contacts.get(user)
        assert contact.email == f"{user}@example.com"
        assert contact.traits["group"] == {"id": "acme", "name": "Acme"}
        assert (stored["page"].name, stored["screen"].name) == ("Page Viewed", "Screen Viewed")
        if not sync_mode:
            # One batch request: one receive time for all of it.
            assert len({event.received_at for event in stored.values()}) == 1

        # The sign-up started welcome, which mailed the user.
        async def mailed() -> bool:
            return bool(await store.messages.list(contact_id=user))

        await until(mailed, "the welcome email")
        handle = time_env.client.get_workflow_handle(DEV_KEYS.workflow_id("welcome", user))
        assert (await handle.describe()).workflow_type == "welcome"
        await handle.terminate("test over")


async def test_a_wrong_write_key_is_a_401_the_sdk_reports(
    time_env: WorkflowEnvironment, store: Store, settings: Settings, tmp_path: Path
) -> None:
    errors: list[tuple[Exception, list[dict[str, Any]]]] = []
    async with stack(time_env, store, settings, tmp_path / "outbox") as base:
        client = Client(
            "not-the-key",
            host=base,
            on_error=lambda error, batch: errors.append((error, batch)),
            max_retries=0,
        )
        try:
            await asyncio.to_thread(client.track, "eve", "Unsubscribed", message_id="w-1")
            await asyncio.to_thread(client.flush)
        finally:
            await asyncio.to_thread(client.shutdown)
        sync = Client("not-the-key", host=base, sync_mode=True, max_retries=0)
        with pytest.raises(APIError) as raised:
            await asyncio.to_thread(sync.identify, "eve", {"email": "eve@example.com"})

    [(error, batch)] = errors
    assert isinstance(error, APIError) and error.status == 401
    assert [item["messageId"] for item in batch] == ["w-1"]  # the SDK knows what was lost
    assert raised.value.status == 401 and raised.value.code == "unauthorized"
    assert await store.events.get("w-1") is None
    assert await store.contacts.get("eve") is None
