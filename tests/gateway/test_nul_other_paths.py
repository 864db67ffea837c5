"""U+0000 on the write paths beside ingestion: refused with the field named, on both backends.

PostgreSQL's text and jsonb cannot hold it (SQLite can). Unchecked, a NUL in a consent, a push
subscription or a provider's webhook was a 500 on PostgreSQL (and a webhook the provider
retries for hours), while the catalog stripped it silently. Now the API calls answer a 422
naming the field, like ``/v1/track``; a webhook event with one is answered 2xx (so the provider
does not retry it) and ignored, logged once without the value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator, MutableMapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import structlog
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from structlog.testing import capture_logs

import gateway.twilio_inbound
import gateway.webhooks
from activities.policy import MessagingPolicy
from gateway.twilio_inbound import make_twilio_router
from gateway.webhooks import make_webhooks_router
from store import Store
from store.records import MessageRecord
from store.schema_channels import push_subscriptions
from store.schema_messaging import consent_ledger
from tests.gateway.both_backends import db, pg_store, store, tag

__all__ = ["db", "pg_store", "store", "tag"]

NUL = "\x00"
REASON = "NUL character (U+0000)"
MAILGUN_KEY = "key-mailgun-nul-0123456789"
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def refused(response: httpx.Response, field: str) -> None:
    """A 422 in the gateway's error shape, naming ``field`` and the NUL."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"error", "code", "field", "message"}
    assert (body["error"], body["code"], body["field"]) == (
        "invalid_request",
        "invalid_request",
        field,
    )
    assert REASON in body["message"]


# ---- consent and push subscriptions ------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"userId": f"u{NUL}"}, "userId"),
        ({"topic": f"market{NUL}ing"}, "topic"),
        ({"wordingVersion": f"v1{NUL}"}, "wordingVersion"),
    ],
)
async def test_consent_with_a_nul_is_a_422_naming_the_field(
    client: httpx.AsyncClient, store: Store, tag: str, fields: dict[str, str], field: str
) -> None:
    body: dict[str, Any] = {"userId": f"c-{tag}", "channel": "sms", "topic": "marketing"}
    body = {**body, "subscribed": True, **fields}
    if "userId" in fields:
        body["userId"] += tag

    refused(await client.post("/v1/consent", json=body), field)

    async with store.engine.connect() as conn:
        stmt = sa.select(consent_ledger.c.id).where(consent_ledger.c.contact_id.like(f"%{tag}%"))
        assert (await conn.execute(stmt)).first() is None


def subscription(tag: str) -> dict[str, Any]:
    keys = {"p256dh": "B" + "x" * 86, "auth": "a" * 22}
    return {
        "userId": f"p-{tag}",
        "subscription": {"endpoint": f"https://push.example/{tag}", "keys": keys},
    }


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("userId",), "userId"),
        (("subscription", "endpoint"), "subscription.endpoint"),
        (("subscription", "keys", "auth"), "subscription.keys.auth"),
    ],
)
async def test_a_push_subscription_with_a_nul_is_a_422_naming_the_field(
    client: httpx.AsyncClient, store: Store, tag: str, path: tuple[str, ...], field: str
) -> None:
    body = subscription(tag)
    holder = body
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = holder[path[-1]][:-1] + NUL

    refused(await client.post("/v1/push/subscriptions", json=body), field)

    async with store.engine.connect() as conn:
        stmt = sa.select(push_subscriptions.c.endpoint).where(
            push_subscriptions.c.endpoint.like(f"%{tag[:-1]}%")
        )
        assert (await conn.execute(stmt)).first() is None


@pytest.mark.parametrize("field", ["userId", "endpoint"])
async def test_removing_a_push_subscription_with_a_nul_is_a_422(
    client: httpx.AsyncClient, tag: str, field: str
) -> None:
    body = {"userId": f"p-{tag}", "endpoint": f"https://push.example/{tag}"}
    body[field] += NUL

    response = await client.request("DELETE", "/v1/push/subscriptions", json=body)

    refused(response, field)


# ---- catalog -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": f"Lens{NUL}"}, "products.1.name"),
        ({"related": ["cap", f"b{NUL}ag"]}, "products.1.related.1"),
        ({"category": NUL}, "products.1.category"),
    ],
)
async def test_a_catalog_upsert_with_a_nul_is_a_422_and_stores_nothing(
    client: httpx.AsyncClient, store: Store, tag: str, fields: dict[str, Any], field: str
) -> None:
    # Refused like ingestion, no longer stripped: the whole body, as for a field of the
    # wrong shape (README: "A body of the wrong shape is a 422 naming the field").
    good = {"id": f"ok-{tag}", "name": "Cap", "price": 10, "currency": "EUR"}
    bad = {"id": f"bad-{tag}", "name": "Lens", "price": 329, "currency": "EUR", **fields}

    response = await client.post("/v1/catalog/products", json={"products": [good, bad]})

    refused(response, field)
    assert await store.catalog.get(f"ok-{tag}") is None
    assert await store.catalog.get(f"bad-{tag}") is None


# ---- provider webhooks -------------------------------------------------------------------


@pytest.fixture
def policy() -> MessagingPolicy:
    return MessagingPolicy(public_url="https://links.test", secret_key="nul-secret")


@pytest.fixture
async def hooks(store: Store, policy: MessagingPolicy) -> AsyncIterator[httpx.AsyncClient]:
    """The email providers' and Twilio's webhooks on the test's store."""
    app = FastAPI()
    app.state.store = store
    app.include_router(
        make_webhooks_router(
            policy,
            postmark_username="pm",
            postmark_password="pw",
            sendgrid_public_key=SENDGRID_PUBLIC,
            mailgun_signing_key=MAILGUN_KEY,
        )
    )
    app.include_router(
        make_twilio_router(policy, auth_token=None, public_url="https://h.test", verify=False)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://h.test") as client:
        yield client


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MutableMapping[str, Any]]]:
    """What the webhooks log during the test."""
    with capture_logs() as entries:
        for module in (gateway.webhooks, gateway.twilio_inbound):
            fresh = structlog.get_logger(module.__name__)
            monkeypatch.setattr(module, "log", fresh, raising=False)
        yield entries


def ignored_once(logs: list[MutableMapping[str, Any]], provider: str, field: str) -> None:
    """One warning naming the provider and the field, never the value."""
    entries = [e for e in logs if e.get("event") == "webhook event ignored"]
    assert len(entries) == 1, logs
    [entry] = entries
    assert (entry["provider"], entry["field"], entry["log_level"]) == (provider, field, "warning")
    assert REASON in entry["reason"]
    assert all(NUL not in repr(value) for value in entry.values()), entry


async def sent_message(store: Store, tag: str, sid: str | None = None) -> MessageRecord:
    """A message of ours, sent (through Twilio, as ``sid``, when given)."""
    contact = f"m-{tag}"
    at = datetime.now(UTC)
    await store.contacts.identify(contact, {"email": f"{contact}@example.com"}, at)
    record = MessageRecord(
        key=f"test/{tag}",
        message_id=f"msg-{tag}",
        contact_id=contact,
        journey="welcome",
        step="01-hello",
        template="welcome/hello",
        topic="marketing",
        to_address=f"{contact}@example.com",
        status="prepared",
        created_at=at,
        channel="sms" if sid else "email",
    )
    message = await store.messages.prepare(record)
    provider = "twilio" if sid else "outbox"
    await store.messages.mark(message.key, "sent", at=at, provider=provider, provider_id=sid)
    return message


async def event_names(store: Store, contact_id: str) -> list[str]:
    return [e.name for e in await store.events.for_contact(contact_id)]


def postmark_headers() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(b"pm:pw").decode()}


async def test_postmark_answers_200_and_ignores_a_nul_message_id(
    hooks: httpx.AsyncClient, logs: list[MutableMapping[str, Any]], tag: str
) -> None:
    body = {
        "RecordType": "Delivery",
        "MessageID": f"pm-{tag}",
        "Metadata": {"sojourn_message_id": f"msg-{tag}{NUL}"},
        "DeliveredAt": "2026-03-01T10:00:00Z",
    }

    answer = await hooks.post("/webhooks/postmark", json=body, headers=postmark_headers())

    assert (answer.status_code, answer.json()) == (200, {"status": "ignored"})
    ignored_once(logs, "postmark", "Metadata.sojourn_message_id")


async def test_postmark_ignores_a_click_whose_link_holds_a_nul(
    hooks: httpx.AsyncClient, store: Store, logs: list[MutableMapping[str, Any]], tag: str
) -> None:
    message = await sent_message(store, tag)
    body = {
        "RecordType": "Click",
        "MessageID": f"pm-{tag}",
        "Metadata": {"sojourn_message_id": message.message_id},
        "OriginalLink": f"https://shop.test/{NUL}",
        "ReceivedAt": "2026-03-01T10:00:00Z",
    }

    answer = await hooks.post("/webhooks/postmark", json=body, headers=postmark_headers())

    assert (answer.status_code, answer.json()) == (200, {"status": "ignored"})
    assert await event_names(store, message.contact_id) == []
    ignored_once(logs, "postmark", "OriginalLink")


def sendgrid_headers(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = SENDGRID_KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


async def test_sendgrid_records_the_good_events_and_ignores_the_nul_one(
    hooks: httpx.AsyncClient, store: Store, logs: list[MutableMapping[str, Any]], tag: str
) -> None:
    message = await sent_message(store, tag)
    ours = message.message_id
    items = [
        {"event": "open", "sg_event_id": f"a-{tag}", "sojourn_message_id": ours},
        {"event": "open", "sg_event_id": f"b-{tag}", "sojourn_message_id": f"{ours}{NUL}"},
        {"event": "delivered", "sg_event_id": f"c-{tag}", "sojourn_message_id": ours},
    ]
    body = json.dumps(items).encode()

    answer = await hooks.post("/webhooks/sendgrid", content=body, headers=sendgrid_headers(body))

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "recorded", "count": 2, "ignored": 1}
    assert sorted(await event_names(store, message.contact_id)) == [
        "Email Delivered",
        "Email Opened",
    ]
    ignored_once(logs, "sendgrid", "[1].sojourn_message_id")


def mailgun(data: dict[str, Any]) -> dict[str, Any]:
    timestamp = str(int(time.time()))
    token = uuid.uuid4().hex + uuid.uuid4().hex[:18]
    digest = hmac.new(MAILGUN_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    signature = {"timestamp": timestamp, "token": token, "signature": digest.hexdigest()}
    return {"signature": signature, "event-data": {"timestamp": time.time(), **data}}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"id": "e1", "user-variables": {"sojourn_message_id": f"x{NUL}"}},
            "event-data.user-variables.sojourn_message_id",
        ),
        ({"id": f"e{NUL}2", "user-variables": {"sojourn_message_id": "ours"}}, "event-data.id"),
    ],
)
async def test_mailgun_answers_200_and_ignores_an_event_with_a_nul(
    hooks: httpx.AsyncClient,
    store: Store,
    logs: list[MutableMapping[str, Any]],
    tag: str,
    data: dict[str, Any],
    field: str,
) -> None:
    message = await sent_message(store, tag)
    variables = data["user-variables"]
    if variables["sojourn_message_id"] == "ours":
        variables["sojourn_message_id"] = message.message_id

    answer = await hooks.post("/webhooks/mailgun", json=mailgun({"event": "opened", **data}))

    assert (answer.status_code, answer.json()) == (200, {"status": "ignored"})
    assert await event_names(store, message.contact_id) == []
    ignored_once(logs, "mailgun", field)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"MessageSid": f"SM{NUL}"}, "MessageSid"),
        ({"MessageStatus": "failed", "ErrorCode": f"300{NUL}6"}, "ErrorCode"),
    ],
)
async def test_twilio_status_answers_204_and_ignores_a_nul(
    hooks: httpx.AsyncClient,
    store: Store,
    logs: list[MutableMapping[str, Any]],
    tag: str,
    fields: dict[str, str],
    field: str,
) -> None:
    message = await sent_message(store, tag, sid=f"SM{tag}")
    params = {"MessageSid": f"SM{tag}", "MessageStatus": "delivered", **fields}

    answer = await hooks.post("/webhooks/twilio/status", data=params)

    assert answer.status_code == 204, answer.text
    assert await event_names(store, message.contact_id) == []
    ignored_once(logs, "twilio", field)
