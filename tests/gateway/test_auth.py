"""Write keys and the rate limit: nobody without a key gets in, and nothing is stored for them."""

from __future__ import annotations

import base64
import gzip
import json

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.auth import KeyRing, key_id
from gateway.ratelimit import RateLimiter
from store import Store
from tests.gateway.conftest import FakeRouter
from worker.settings import DEV_WRITE_KEY, Settings

KEY = "wk-test-0123456789"
TRACK = {"userId": "u-a", "event": "Signed Up", "messageId": "m-a"}


@pytest.fixture
def keyed_app(fast_settings: Settings, store: Store, fake_router: FakeRouter) -> FastAPI:
    settings = fast_settings.model_copy(update={"write_keys": [KEY, "wk-other"]})
    return create_app(settings, store=store, router_factory=fake_router.factory())


@pytest.fixture
async def anonymous(keyed_app: FastAPI):  # type: ignore[no-untyped-def]
    """A client on an app with real keys, sending none unless a test says so."""
    async with (
        keyed_app.router.lifespan_context(keyed_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(keyed_app), base_url="http://gw") as http,
    ):
        yield http


def basic(user: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("wrong"),
        basic(DEV_WRITE_KEY),  # the dev key is not accepted once keys are configured
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic !!not-base64"},
        {"Authorization": "Digest whatever"},
    ],
)
@pytest.mark.parametrize("path", ["/v1/track", "/v1/batch", "/v1/identify", "/v1/page"])
async def test_missing_or_wrong_key_is_a_401_and_stores_nothing(
    anonymous: httpx.AsyncClient, store: Store, headers: dict[str, str], path: str, logs: list
) -> None:
    body = {"batch": [{**TRACK, "type": "track"}]} if path == "/v1/batch" else TRACK
    response = await anonymous.post(path, json=body, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.json()["field"] == "authorization"
    assert response.headers["www-authenticate"].startswith("Basic")
    assert await store.events.get("m-a") is None
    assert await store.contacts.get("u-a") is None


async def test_a_wrong_key_is_refused_before_the_body_is_read(
    anonymous: httpx.AsyncClient,
) -> None:
    # Not JSON at all: a 401 (not a 400) shows the key was checked first.
    response = await anonymous.post("/v1/track", content=b"{nope", headers=basic("wrong"))

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"{nope", {}),  # not JSON
        (json.dumps({**TRACK, "pad": "x" * 40_000}).encode(), {}),  # over 32 KB
        (b"not gzip", {"Content-Encoding": "gzip"}),
        (json.dumps(TRACK).encode(), {"Content-Type": "application/xml"}),
        (json.dumps(TRACK).encode(), {"Content-Encoding": "br"}),
    ],
    ids=["not-json", "too-big", "bad-gzip", "not-json-type", "unknown-encoding"],
)
async def test_without_a_key_an_unreadable_body_is_a_401(
    anonymous: httpx.AsyncClient, store: Store, content: bytes, headers: dict[str, str]
) -> None:
    # No key in the header, and a body that cannot hold one: the caller is unauthenticated,
    # and learns nothing about the body's limits or format from the refusal.
    headers = {"Content-Type": "application/json", **headers}
    response = await anonymous.post("/v1/track", content=content, headers=headers)

    assert response.status_code == 401, response.text
    assert response.json()["field"] == "authorization"
    assert "write key is required" in response.json()["message"]
    assert await store.events.get("m-a") is None


async def test_with_a_good_key_an_unreadable_body_says_what_is_wrong(
    anonymous: httpx.AsyncClient,
) -> None:
    too_big = json.dumps({**TRACK, "pad": "x" * 40_000}).encode()
    headers = {**basic(KEY), "Content-Type": "application/json"}

    assert (await anonymous.post("/v1/track", content=b"{nope", headers=headers)).status_code == 400
    assert (await anonymous.post("/v1/track", content=too_big, headers=headers)).status_code == 413


@pytest.mark.parametrize(
    ("headers", "extra"),
    [
        (basic(KEY), {}),
        (basic("wk-other"), {}),
        (basic(KEY, "ignored-password"), {}),
        ({"Authorization": f"Bearer {KEY}"}, {}),
        ({}, {"writeKey": KEY}),  # in the body, as analytics-python also sends it
    ],
)
async def test_each_way_of_sending_the_key_is_accepted(
    anonymous: httpx.AsyncClient, store: Store, headers: dict[str, str], extra: dict
) -> None:
    response = await anonymous.post("/v1/track", json={**TRACK, **extra}, headers=headers)

    assert response.status_code == 200, response.text
    assert await store.events.get("m-a") is not None


async def test_a_wrong_key_in_the_body_is_a_401(anonymous: httpx.AsyncClient, store: Store) -> None:
    batch = {"writeKey": "nope", "batch": [{**TRACK, "type": "track"}]}
    response = await anonymous.post(
        "/v1/batch",
        content=gzip.compress(json.dumps(batch).encode()),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )

    assert response.status_code == 401
    assert await store.events.get("m-a") is None


@pytest.mark.parametrize("key", ["\\ud800", "wk-test-\\udfff", "\\ud83d"])
async def test_a_body_key_that_is_not_unicode_is_a_401(
    anonymous: httpx.AsyncClient, store: Store, key: str
) -> None:
    # A lone surrogate escape is valid JSON but no UTF-8: it was a 500 (UnicodeEncodeError).
    body = '{"writeKey": "' + key + '", "userId": "u-a", "event": "E", "messageId": "m-a"}'
    response = await anonymous.post(
        "/v1/track", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 401, response.text
    assert response.json()["field"] == "authorization"
    assert await store.events.get("m-a") is None


async def test_a_refusal_is_logged_once_with_the_key_id_never_the_key(
    anonymous: httpx.AsyncClient, logs: list
) -> None:
    logs.clear()
    await anonymous.post("/v1/track", json={"userId": "u"}, headers=basic(KEY))

    refused = [e for e in logs if e["event"] == "request refused"]
    assert len(refused) == 1, logs
    [entry] = refused
    assert entry["status"] == 422 and entry["field"] == "event" and entry["path"] == "/v1/track"
    assert entry["key_id"] == key_id(KEY)
    assert KEY not in json.dumps(logs, default=str)


async def test_webhooks_and_email_links_keep_their_own_auth(
    anonymous: httpx.AsyncClient,
) -> None:
    # No write key needed (their signatures and tokens are checked instead).
    assert (await anonymous.get("/t/o/not-a-token")).status_code == 200
    assert (await anonymous.post("/u/not-a-token")).status_code == 400
    assert (await anonymous.get("/healthz")).status_code == 200


async def test_rate_limit_answers_429_with_retry_after(
    fast_settings: Settings, store: Store, fake_router: FakeRouter
) -> None:
    settings = fast_settings.model_copy(
        update={"write_keys": [KEY], "rate_limit_per_second": 0.5, "rate_limit_burst": 3}
    )
    app = create_app(settings, store=store, router_factory=fake_router.factory())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as http,
    ):
        answers = [
            await http.post("/v1/track", json={**TRACK, "messageId": f"r-{i}"}, headers=basic(KEY))
            for i in range(5)
        ]
    statuses = [a.status_code for a in answers]
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:] and all(s in (200, 429) for s in statuses)
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"] == "rate_limited"
    stored = [await store.events.get(f"r-{i}") for i in range(5)]
    assert [s is not None for s in stored] == [s == 200 for s in statuses]


def test_token_bucket_refills_and_is_per_key() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])

    assert [limiter.retry_after("a") for _ in range(2)] == [0.0, 0.0]
    assert limiter.retry_after("a") == pytest.approx(0.5)
    assert limiter.retry_after("b") == 0.0  # another key has its own bucket
    now[0] += 0.5
    assert limiter.retry_after("a") == 0.0
    assert RateLimiter(rate=0, burst=1).retry_after("a") == 0.0  # 0 turns it off


def test_key_ring_matches_only_its_keys() -> None:
    ring = KeyRing(["k1", "k2"])

    assert ring.match("k2") == key_id("k2")
    assert ring.match("k3") is None
    assert ring.match("") is None
    assert ring.match(None) is None
    assert not KeyRing([])
    assert len(key_id("k1")) == 12 and "k1" not in key_id("k1")
