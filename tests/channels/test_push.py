"""Web push with VAPID against a local push service: each subscription reached, gone ones
removed, 5xx retried; and the subscribe endpoint behind the write key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from py_vapid import Vapid02  # type: ignore[import-untyped]
from temporalio.exceptions import ApplicationError

from activities.policy import MessagingPolicy
from activities.providers.webpush import WebPushProvider
from activities.sending import SendActivities
from gateway import errors
from gateway.auth import KeyRing
from gateway.push import make_push_router
from store import Store
from store.push_subscriptions import PushSubscription
from tests.channels.conftest import add_contact, make_sender, send, send_request
from tests.channels.push_server import Browser, PushRecorded, b64url, make_push_app
from tests.messaging.fake_providers import serve_app

WRITE_KEY = "push-test-write-key"


@pytest.fixture
async def service() -> AsyncIterator[tuple[str, PushRecorded]]:
    recorded = PushRecorded()
    async with serve_app(make_push_app(recorded)) as url:
        yield url, recorded


@pytest.fixture
def vapid_key() -> str:
    vapid = Vapid02()
    vapid.generate_keys()
    return vapid.private_pem().decode()


@pytest.fixture
def push_sender(
    store: Store,
    policy: MessagingPolicy,
    tmp_path: Path,
    client: httpx.AsyncClient,
    vapid_key: str,
) -> SendActivities:
    """The send activities with web push through VAPID (to the local push service)."""
    push = WebPushProvider(client, store, vapid_key, subject="mailto:ops@sojourn.test")
    return make_sender(store, policy, tmp_path, push=push)


async def subscribe(
    store: Store, contact: str, url: str, recorded: PushRecorded, name: str
) -> None:
    browser = recorded.browsers.setdefault(name, Browser())
    await store.push.add(
        PushSubscription(
            contact_id=contact,
            endpoint=f"{url}/push/{name}",
            p256dh=browser.p256dh,
            auth=b64url(browser.auth),
            created_at=datetime.now(UTC),
        )
    )


async def test_a_push_reaches_each_subscription_and_gone_ones_are_removed(
    service: tuple[str, PushRecorded], store: Store, push_sender: SendActivities
) -> None:
    url, recorded = service
    contact = await add_contact(store)
    for name in ("laptop", "phone", "gone-old", "missing-old"):
        await subscribe(store, contact, url, recorded, name)
    req = send_request(contact, channel="push")
    delivery = await send(push_sender, req)
    assert delivery.status == "sent" and delivery.provider_id == "2/4"
    assert recorded.vapid_problems == []
    for name in ("laptop", "phone"):
        [payload] = recorded.delivered[name]
        assert payload["title"] == "Your cart is waiting"
        assert "Ada" in payload["body"] and payload["url"].endswith("/cart")
        assert payload["message_id"] == delivery.message_id
    assert {h["content-encoding"] for h in recorded.headers} == {"aes128gcm"}
    assert {h["topic"] for h in recorded.headers} == {delivery.message_id[:32]}
    left = [s.endpoint.rsplit("/", 1)[1] for s in await store.push.of(contact)]
    assert left == ["laptop", "phone"]


async def test_a_busy_push_service_is_retried(
    service: tuple[str, PushRecorded], store: Store, push_sender: SendActivities
) -> None:
    url, recorded = service
    contact = await add_contact(store)
    await subscribe(store, contact, url, recorded, "busy")
    req = send_request(contact, channel="push")
    with pytest.raises(ApplicationError) as info:
        await send(push_sender, req)
    assert not info.value.non_retryable and info.value.next_retry_delay is not None
    assert info.value.next_retry_delay.total_seconds() == 3
    stored = await store.messages.get(req.key)
    assert stored is not None and stored.status == "prepared"


async def test_only_gone_subscriptions_fail_the_push_and_leave_none(
    service: tuple[str, PushRecorded], store: Store, push_sender: SendActivities
) -> None:
    url, recorded = service
    contact = await add_contact(store)
    await subscribe(store, contact, url, recorded, "gone")
    with pytest.raises(ApplicationError) as info:
        await send(push_sender, send_request(contact, channel="push"))
    assert info.value.non_retryable
    assert await store.push.of(contact) == []
    # The next push finds nobody to reach: refused, nothing sent.
    later = await send(push_sender, send_request(contact, channel="push"))
    assert later.status == "refused" and later.reason == "no_push"


@pytest.fixture
async def api(store: Store, policy: MessagingPolicy) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    errors.install(app)
    app.state.store = store
    app.state.write_keys = KeyRing([WRITE_KEY])
    app.include_router(make_push_router(policy, "BPublicKey"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


async def test_the_subscribe_endpoint_needs_the_write_key(
    api: httpx.AsyncClient, store: Store
) -> None:
    browser = Browser()
    body = {
        "userId": "u-1",
        "subscription": {
            "endpoint": "https://push.example/send/abc",
            "keys": {"p256dh": browser.p256dh, "auth": b64url(browser.auth)},
        },
    }
    assert (await api.post("/v1/push/subscriptions", json=body)).status_code == 401
    stored = await api.post("/v1/push/subscriptions", json=body, auth=(WRITE_KEY, ""))
    assert stored.status_code == 201
    [sub] = await store.push.of("u-1")
    assert sub.endpoint == "https://push.example/send/abc" and sub.p256dh == browser.p256dh
    bad = {**body, "subscription": {"endpoint": "ftp://x", "keys": {}}}
    assert (
        await api.post("/v1/push/subscriptions", json=bad, auth=(WRITE_KEY, ""))
    ).status_code == 422
    gone = await api.request(
        "DELETE",
        "/v1/push/subscriptions",
        json={"userId": "u-1", "endpoint": "https://push.example/send/abc"},
        auth=(WRITE_KEY, ""),
    )
    assert gone.json() == {"status": "removed"} and await store.push.of("u-1") == []
    key = await api.get("/v1/push/vapid-public-key")
    assert key.json() == {"publicKey": "BPublicKey"}


async def test_sms_consent_through_the_api(api: httpx.AsyncClient, store: Store) -> None:
    body = {"userId": "u-2", "channel": "sms", "topic": "marketing", "subscribed": True}
    assert (await api.post("/v1/consent", json=body)).status_code == 401
    answer = await api.post("/v1/consent", json=body, auth=(WRITE_KEY, ""))
    assert answer.status_code == 200
    assert (await store.consent.state("u-2", "sms"))["marketing"][0] == "granted"
    assert await store.consent.state("u-2") == {}
