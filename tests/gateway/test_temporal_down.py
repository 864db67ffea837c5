"""End to end with a real Temporal dev server that starts only after the event was accepted."""

from __future__ import annotations

import asyncio

import httpx
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from gateway.app import create_app
from store import Store
from tests.conftest import binary
from tests.gateway.conftest import AUTH, WAIT, eventually
from tests.ports import free_port
from worker.settings import Settings
from worker.temporal import data_converter
from worker.worker import build_worker
from workflows import search
from workflows.search import DEV_KEYS


async def test_events_accepted_while_temporal_is_down_are_routed_after_it_comes_back(
    settings: Settings, store: Store
) -> None:
    port = free_port()
    settings = settings.model_copy(
        update={"temporal_address": f"127.0.0.1:{port}", "relay_interval_seconds": 0.05}
    )
    app = create_app(settings, store=store)  # the real router factory: connects to Temporal

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://gateway", auth=AUTH
        ) as http,
    ):
        identified = await http.post(
            "/v1/identify", json={"userId": "c-1", "traits": {"email": "c1@example.com"}}
        )
        accepted = await http.post(
            "/v1/track", json={"userId": "c-1", "event": "Signed Up", "messageId": "su-1"}
        )
        assert identified.status_code == 200
        assert accepted.status_code == 200
        stored = await store.events.get("su-1")
        assert stored is not None and stored.routed_at is None
        relay = app.state.relay
        await eventually(lambda: _failed(relay))  # it tried, and kept the event
        assert (await store.events.get("su-1")).routed_at is None

        env = await WorkflowEnvironment.start_local(
            port=port,
            dev_server_existing_path=binary("temporal"),
            data_converter=data_converter(settings),
            search_attributes=list(search.ALL),
            ui=False,
        )
        try:
            async with build_worker(env.client, store, settings):
                await eventually(lambda: _routed(store, "su-1"))
                handle = env.client.get_workflow_handle(DEV_KEYS.workflow_id("welcome", "c-1"))
                await eventually(lambda: _exists(handle))
                await eventually(lambda: _sent(store, "c-1"))
                health = (await http.get("/healthz")).json()
                assert health["temporal"] == "connected"
        finally:
            await asyncio.wait_for(env.shutdown(), WAIT)


async def _failed(relay: object) -> bool:
    return getattr(relay, "failures", 0) > 0


async def _routed(store: Store, message_id: str) -> bool:
    record = await store.events.get(message_id)
    return record is not None and record.routed_at is not None


async def _exists(handle: object) -> bool:
    try:
        await handle.describe()  # type: ignore[attr-defined]
    except RPCError:
        return False
    return True


async def _sent(store: Store, contact_id: str) -> bool:
    messages = await store.messages.list(contact_id=contact_id)
    return any(m.template == "welcome/hello" and m.status == "sent" for m in messages)
