"""Every refused call is logged once, structured: status, path, field, key id; never the key,
never a value from the body (which may hold personal data)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.auth import key_id
from store import Store
from tests.gateway.conftest import FakeRouter
from tests.gateway.test_auth import KEY, basic
from worker.settings import Settings

EMAIL = "ada.lovelace@example.com"  # personal data: must never reach a log line
TRACK = {"userId": "u-log", "event": "Signed Up", "properties": {"email": EMAIL}}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def http(fast_settings: Settings, store: Store, fake_router: FakeRouter):  # type: ignore[no-untyped-def]
    settings = fast_settings.model_copy(
        update={"write_keys": [KEY], "rate_limit_per_second": 0.01, "rate_limit_burst": 1}
    )
    app: FastAPI = create_app(settings, store=store, router_factory=fake_router.factory())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as client,
    ):
        yield client


def body(**extra: Any) -> bytes:
    return json.dumps({**TRACK, **extra}).encode()


CASES = [
    # (name, headers, content, status, field, key known)
    ("no key", JSON, body(), 401, "authorization", False),
    ("wrong key", {**JSON, **basic("wk-wrong")}, body(), 401, "authorization", False),
    ("not json", {**JSON, **basic(KEY)}, EMAIL.encode(), 400, "body", True),
    ("too big", {**JSON, **basic(KEY)}, body(pad="x" * 40_000), 413, "body", True),
    (
        "media type",
        {"Content-Type": "application/xml", **basic(KEY)},
        body(),
        415,
        "content-type",
        True,
    ),
    ("invalid", {**JSON, **basic(KEY)}, body(event=None), 422, "event", True),
]


@pytest.mark.parametrize(
    ("headers", "content", "status", "field", "known"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
async def test_each_refusal_is_logged_once_without_key_or_personal_data(
    http: httpx.AsyncClient,
    logs: list[dict[str, Any]],
    headers: dict[str, str],
    content: bytes,
    status: int,
    field: str,
    known: bool,
) -> None:
    logs.clear()
    response = await http.post("/v1/track", content=content, headers=headers)

    assert response.status_code == status, response.text
    refused = [e for e in logs if e["event"] == "request refused"]
    assert len(refused) == 1, logs
    [entry] = refused
    assert (entry["status"], entry["path"], entry["field"]) == (status, "/v1/track", field)
    assert entry["key_id"] == (key_id(KEY) if known else None)
    written = json.dumps(logs, default=str)
    assert KEY not in written and EMAIL not in written and "wk-wrong" not in written


async def test_the_rate_limit_refusal_is_logged_with_the_key_id(
    http: httpx.AsyncClient, logs: list[dict[str, Any]]
) -> None:
    headers = {**JSON, **basic(KEY)}
    assert (await http.post("/v1/track", content=body(), headers=headers)).status_code == 200
    logs.clear()
    response = await http.post("/v1/track", content=body(), headers=headers)

    assert response.status_code == 429
    [entry] = [e for e in logs if e["event"] == "request refused"]
    assert (entry["status"], entry["key_id"]) == (429, key_id(KEY))
    assert KEY not in json.dumps(logs, default=str)


async def test_refused_batch_items_are_logged_once_per_request(
    http: httpx.AsyncClient, logs: list[dict[str, Any]]
) -> None:
    good = {**TRACK, "type": "track", "messageId": "m-good"}
    bad = {"type": "track", "userId": "u-log", "properties": {"email": EMAIL}}  # no event
    logs.clear()
    response = await http.post("/v1/batch", json={"batch": [good, bad, bad]}, headers=basic(KEY))

    assert response.status_code == 200
    assert [r["index"] for r in response.json()["refused"]] == [1, 2]
    [entry] = [e for e in logs if e["event"] == "batch items refused"]
    assert entry["status"] == 200 and entry["path"] == "/v1/batch"
    assert (entry["refused"], entry["stored"], entry["fields"]) == (2, 1, ["event"])
    assert entry["key_id"] == key_id(KEY)
    assert not [e for e in logs if e["event"] == "request refused"]
    assert EMAIL not in json.dumps(logs, default=str)
