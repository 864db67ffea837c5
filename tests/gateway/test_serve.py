"""The gateway as ``sojourn gateway`` serves it: a real socket, and a clean stop."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from store import Store
from tests.gateway.conftest import AUTH
from tests.ports import free_port
from worker.serve import gateway_server, serve_gateway, stop_gateway, wait_started
from worker.settings import Settings


async def test_the_gateway_answers_over_http_and_stops_cleanly(
    settings: Settings, store: Store, logs: list[dict[str, Any]]
) -> None:
    settings = settings.model_copy(
        update={
            "gateway_port": free_port(),
            "temporal_address": f"127.0.0.1:{free_port()}",  # nothing listens: Temporal is down
            "relay_interval_seconds": 0.05,
        }
    )
    server = gateway_server(settings)
    task = asyncio.ensure_future(serve_gateway(server))
    try:
        assert await wait_started(server, task)
        async with httpx.AsyncClient(base_url=settings.public_gateway_url, auth=AUTH) as http:
            response = await http.post(
                "/v1/track", json={"userId": "u-s", "event": "Signed Up", "messageId": "m-s"}
            )
        assert response.status_code == 200
        assert "server" not in response.headers  # no uvicorn banner on the wire
        # The gateway opened its own store on the same database; the event is there, unrouted.
        record = await store.events.get("m-s")
        assert record is not None and record.routed_at is None
    finally:
        await stop_gateway(server, task)
    assert task.done() and task.exception() is None
    # Stopping ran the lifespan's shutdown: the relay stopped and the store closed.
    assert [e["event"] for e in logs if e["event"].startswith("gateway ")] == [
        "gateway started",
        "gateway stopped",
    ]
