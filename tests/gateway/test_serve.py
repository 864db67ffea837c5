"""``serve``: the gateway on a real socket, and a clean stop when its task is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest

from gateway.app import serve
from store import Store
from tests.gateway.conftest import AUTH, WAIT, eventually
from tests.ports import free_port
from worker.settings import Settings


async def test_serve_answers_over_http_and_stops_on_cancel(
    settings: Settings, store: Store, logs: list[dict[str, Any]]
) -> None:
    settings = settings.model_copy(
        update={
            "gateway_port": free_port(),
            "temporal_address": f"127.0.0.1:{free_port()}",  # nothing listens: Temporal is down
            "relay_interval_seconds": 0.05,
        }
    )
    await _serve_and_cancel(settings, store)

    # Cancelling ran the lifespan's shutdown: the relay stopped and the store closed.
    assert [e["event"] for e in logs if e["event"].startswith("gateway ")] == [
        "gateway started",
        "gateway stopped",
    ]


async def _serve_and_cancel(settings: Settings, store: Store) -> None:
    task = asyncio.create_task(serve(settings))
    try:
        async with httpx.AsyncClient(base_url=settings.public_gateway_url, auth=AUTH) as http:

            async def up() -> bool:
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get("/healthz")).status_code == 200
                return False

            await eventually(up)
            response = await http.post(
                "/v1/track", json={"userId": "u-s", "event": "Signed Up", "messageId": "m-s"}
            )
        assert response.status_code == 200
        # serve opened its own store on the same database; the event is there, unrouted.
        record = await store.events.get("m-s")
        assert record is not None and record.routed_at is None
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, WAIT)
