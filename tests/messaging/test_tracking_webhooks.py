"""First-party tracking (pixel, click redirects) and provider webhooks become events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from activities.links import Links
from activities.policy import MessagingPolicy
from activities.sending import SendActivities
from gateway.tracking import make_tracking_router
from gateway.webhooks import FRESH_FOR, make_webhooks_router
from store import Store
from store.records import MessageRecord
from store.suppression import SuppressionRepo
from tests.messaging.conftest import BASE, add_contact, request, send

EVIL = "https://evil.test"
MAILGUN_KEY = "key-mailgun-signing-0123456789"
KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(
    KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


@pytest.fixture
async def web(store: Store, policy: MessagingPolicy) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.store = store
    app.include_router(make_tracking_router(policy))
    app.include_router(
        make_webhooks_router(
            policy,
            postmark_username="pm",
            postmark_password="s3cret",
            sendgrid_public_key=PUBLIC,
            mailgun_signing_key=MAILGUN_KEY,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def sent(store: Store, sender: SendActivities) -> MessageRecord:
    contact = await add_contact(store)
    delivery = await send(sender, request(contact))
    message = await store.messages.by_message_id(delivery.message_id)
    assert message is not None and message.html
    return message


async def events_of(store: Store, contact_id: str) -> list[tuple[str, dict[str, object]]]:
    return [
        (e.name, e.properties)
        for e in await store.events.unrouted(500)
        if e.contact_id == contact_id
    ]


async def test_click_redirects_only_to_links_of_the_message(
    store: Store, sender: SendActivities, web: httpx.AsyncClient
) -> None:
    message = await sent(store, sender)
    html = message.html or ""
    clicks = re.findall(r'href="(https://links\.test/t/c/[^"]+)"', html)
    assert clicks, "web links are rewritten into click redirects"
    assert "https://shop.sojourn.test/new" not in html
    # The unsubscribe/preference links are not tracked.
    assert re.search(r'href="https://links\.test/u/', html)
    response = await web.get(clicks[0].removeprefix(BASE))
    assert response.status_code == 302
    assert response.headers["location"] == "https://shop.sojourn.test/new"
    [(name, props)] = await events_of(store, message.contact_id)
    assert name == "Email Link Clicked"
    assert props["email_id"] == message.message_id and props["step"] == message.step
    assert props["url"] == "https://shop.sojourn.test/new"
    # No open redirect: an altered token (another URL) is refused without a Location.
    token = clicks[0].rsplit("/", 1)[1]
    evil = Links(MessagingPolicy(secret_key="guess")).click_url(message.message_id, EVIL)
    flipped = token[:30] + ("A" if token[30] != "A" else "B") + token[31:]
    for bad in (evil.removeprefix(BASE), f"/t/c/{flipped}", f"/t/c/{token}x"):
        refused = await web.get(bad)
        assert refused.status_code == 400 and "location" not in refused.headers


async def test_open_pixel_records_an_open(
    store: Store, sender: SendActivities, web: httpx.AsyncClient
) -> None:
    message = await sent(store, sender)
    [pixel] = re.findall(r'<img src="https://links\.test(/t/o/[^"]+)"', message.html or "")
    response = await web.get(pixel)
    assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
    assert response.headers["cache-control"].startswith("no-store")
    [(name, props)] = await events_of(store, message.contact_id)
    assert name == "Email Opened" and props["email_id"] == message.message_id
    forged = await web.get("/t/o/bm9wZQ.AAAA.gif")
    assert forged.status_code == 200  # still a pixel, but no event
    assert len(await events_of(store, message.contact_id)) == 1


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_postmark_webhook_events_and_suppression(
    store: Store, sender: SendActivities, web: httpx.AsyncClient
) -> None:
    message = await sent(store, sender)
    meta = {"sojourn_message_id": message.message_id}
    delivered = {"RecordType": "Delivery", "MessageID": "pm-1", "Metadata": meta,
                 "DeliveredAt": "2026-03-01T10:00:00Z"}  # fmt: skip
    assert (await web.post("/webhooks/postmark", json=delivered)).status_code == 401
    wrong = await web.post("/webhooks/postmark", json=delivered, headers=basic("pm", "nope"))
    assert wrong.status_code == 401
    ok = await web.post("/webhooks/postmark", json=delivered, headers=basic("pm", "s3cret"))
    assert ok.json() == {"status": "recorded"}
    bounce = {"RecordType": "Bounce", "Type": "HardBounce", "MessageID": "pm-1", "ID": 42,
              "Metadata": meta, "BouncedAt": "2026-03-01T10:01:00Z"}  # fmt: skip
    await web.post("/webhooks/postmark", json=bounce, headers=basic("pm", "s3cret"))
    names = [
        (n, p["email_id"], p["journey"]) for n, p in await events_of(store, message.contact_id)
    ]
    assert names == [
        ("Email Delivered", message.message_id, "welcome"),
        ("Email Bounced", message.message_id, "welcome"),
    ]
    assert await SuppressionRepo(store.engine).is_suppressed(message.to_address or "")
    # A suppressed address is never sent to again, transactional included.
    again = await send(sender, request(message.contact_id, topic="transactional"))
    assert (again.status, again.reason) == ("refused", "suppressed")


def signed(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    signature = KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


async def test_sendgrid_signed_webhook(
    store: Store, sender: SendActivities, web: httpx.AsyncClient
) -> None:
    message = await sent(store, sender)
    items = [
        {"event": "open", "sg_event_id": "e1", "sojourn_message_id": message.message_id},
        {
            "event": "click",
            "sg_event_id": "e2",
            "url": "https://shop.test/x",
            "sojourn_message_id": message.message_id,
        },  # fmt: skip
        {"event": "spamreport", "sg_event_id": "e3", "sojourn_message_id": message.message_id},
        {"event": "unsubscribe", "sg_event_id": "e4", "sojourn_message_id": message.message_id},
        {"event": "processed", "sg_event_id": "e5", "sojourn_message_id": message.message_id},
        {"event": "open", "sg_event_id": "e6", "sojourn_message_id": "not-ours"},
    ]
    body = json.dumps(items).encode()
    tampered = body.replace(b"https://shop.test/x", b"https://shop.test/y")
    bad = await web.post("/webhooks/sendgrid", content=tampered, headers=signed(body))
    assert bad.status_code == 401
    ok = await web.post("/webhooks/sendgrid", content=body, headers=signed(body))
    assert ok.json() == {"status": "recorded", "count": 4}
    names = [n for n, _ in await events_of(store, message.contact_id)]
    assert names == ["Email Opened", "Email Link Clicked", "Email Marked as Spam", "Unsubscribed"]
    assert await SuppressionRepo(store.engine).is_suppressed(message.to_address or "")
    assert not await store.consent.allowed(message.contact_id, "marketing")
    # A replayed delivery of the same events adds nothing (event ids are stable).
    await web.post("/webhooks/sendgrid", content=body, headers=signed(body))
    assert len(await events_of(store, message.contact_id)) == 4


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'"text"'], ids=["broken", "array", "string"]
)
async def test_postmark_webhook_refuses_a_malformed_body_with_a_400(
    web: httpx.AsyncClient, body: bytes
) -> None:
    headers = {**basic("pm", "s3cret"), "Content-Type": "application/json"}
    answer = await web.post("/webhooks/postmark", content=body, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["field"] == "body"


@pytest.mark.parametrize("body", [b"{not json", b'{"event": "open"}', b"[1]"])
async def test_sendgrid_webhook_refuses_a_malformed_body_with_a_400(
    web: httpx.AsyncClient, body: bytes
) -> None:
    answer = await web.post("/webhooks/sendgrid", content=body, headers=signed(body))
    assert answer.status_code == 400
    assert answer.json()["field"] == "body"


# ---- freshness, replay and signatures ----------------------------------------------------


async def test_sendgrid_refuses_a_genuine_signature_that_is_not_fresh(
    store: Store, sender: SendActivities, web: httpx.AsyncClient
) -> None:
    message = await sent(store, sender)
    body = json.dumps(
        [{"event": "open", "sg_event_id": "old-1", "sojourn_message_id": message.message_id}]
    ).encode()
    late = FRESH_FOR.total_seconds() + 60
    for when in (time.time() - late, time.time() + late):
        answer = await web.post(
            "/webhooks/sendgrid", content=body, headers=signed(body, str(int(when)))
        )
        assert answer.status_code == 401 and answer.json() == {"error": "stale signature"}
    assert await events_of(store, message.contact_id) == []
    fresh = await web.post("/webhooks/sendgrid", content=body, headers=signed(body))
    assert fresh.json() == {"status": "recorded", "count": 1}


def raw_basic(credentials: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials).decode()}


@pytest.mark.parametrize(
    "headers",
    [
        raw_basic("pm:sécret".encode()),
        raw_basic(b"pm:\xff\xfe"),
        raw_basic("pm:s3cret✓".encode()),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer s3cret"},
    ],
    ids=["utf8", "not-utf8", "longer", "not-base64", "not-basic"],
)
async def test_postmark_refuses_wrong_credentials_in_any_encoding_without_an_error(
    web: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await web.post("/webhooks/postmark", json={"RecordType": "Open"}, headers=headers)
    assert answer.status_code == 401


async def test_postmark_accepts_a_non_ascii_password_compared_as_bytes(store: Store) -> None:
    app = FastAPI()
    app.state.store = store
    policy = MessagingPolicy(public_url=BASE, secret_key="k")
    app.include_router(
        make_webhooks_router(policy, postmark_username="pm", postmark_password="pässwörd")
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as web:
        body = {"RecordType": "Open", "Metadata": {}}
        right = await web.post(
            "/webhooks/postmark", json=body, headers=raw_basic("pm:pässwörd".encode())
        )
        wrong = await web.post("/webhooks/postmark", json=body, headers=raw_basic(b"pm:passwort"))
    assert right.status_code == 200 and wrong.status_code == 401


def mailgun(event: dict[str, object], *, at: float | None = None, key: str = MAILGUN_KEY,
            token: str | None = None) -> dict[str, object]:  # fmt: skip
    """A Mailgun webhook body, signed as Mailgun signs it."""
    timestamp = str(int(at if at is not None else time.time()))
    token = token or uuid.uuid4().hex + uuid.uuid4().hex[:18]  # 50 characters, like Mailgun's
    digest = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": digest},
        "event-data": {"id": uuid.uuid4().hex[:22], "timestamp": time.time(), **event},
    }


async def test_mailgun_events_become_sojourn_events(
    store: Store, sender: SendActivities, web: httpx.AsyncClient
) -> None:
    message = await sent(store, sender)
    ours = {"user-variables": {"sojourn_message_id": message.message_id}}
    events = [
        {"event": "delivered", **ours},
        {"event": "opened", **ours},
        {"event": "clicked", "url": "https://shop.test/x", **ours},
        {"event": "failed", "severity": "temporary", "reason": "generic", **ours},
        {"event": "accepted", **ours},
        {"event": "opened", "user-variables": {"sojourn_message_id": "not-ours"}},
    ]
    answers = [(await web.post("/webhooks/mailgun", json=mailgun(e))).json() for e in events]
    assert [a["status"] for a in answers] == [
        "recorded", "recorded", "recorded", "ignored", "ignored", "unknown message",
    ]  # fmt: skip
    recorded = await events_of(store, message.contact_id)
    assert [n for n, _ in recorded] == ["Email Delivered", "Email Opened", "Email Link Clicked"]
    assert recorded[2][1]["url"] == "https://shop.test/x"
    assert all(p["email_id"] == message.message_id and p["provider"] == "mailgun"
               for _, p in recorded)  # fmt: skip
    assert not await SuppressionRepo(store.engine).is_suppressed(message.to_address or "")

    bounce = {"event": "failed", "severity": "permanent", "reason": "bounce", **ours}
    assert (await web.post("/webhooks/mailgun", json=mailgun(bounce))).status_code == 200
    assert await SuppressionRepo(store.engine).is_suppressed(message.to_address or "")
    for kind in ("complained", "unsubscribed"):
        assert (
            await web.post("/webhooks/mailgun", json=mailgun({"event": kind, **ours}))
        ).is_success
    names = [n for n, _ in await events_of(store, message.contact_id)]
    assert names[3:] == ["Email Bounced", "Email Marked as Spam", "Unsubscribed"]
    assert not await store.consent.allowed(message.contact_id, "marketing")


async def test_mailgun_refuses_bad_stale_and_replayed_signatures(
    store: Store, sender: SendActivities, web: httpx.AsyncClient
) -> None:
    message = await sent(store, sender)
    opened = {"event": "opened", "user-variables": {"sojourn_message_id": message.message_id}}
    late = FRESH_FOR.total_seconds() + 60
    refused = [
        mailgun(opened, key="another-key"),
        mailgun(opened, at=time.time() - late),
        mailgun(opened, at=time.time() + late),
        {"event-data": opened},
        {**mailgun(opened), "signature": "abc"},
    ]
    for body in refused:
        assert (await web.post("/webhooks/mailgun", json=body)).status_code == 401, body
    tampered = mailgun(opened)
    tampered["signature"]["timestamp"] = str(int(time.time()) - 1)  # type: ignore[index]
    assert (await web.post("/webhooks/mailgun", json=tampered)).status_code == 401
    assert await events_of(store, message.contact_id) == []

    first = mailgun(opened)
    assert (await web.post("/webhooks/mailgun", json=first)).json() == {"status": "recorded"}
    # The signature covers timestamp and token only: reused, it must not carry other events.
    spam = {"event": "complained", "user-variables": {"sojourn_message_id": message.message_id}}
    replay = {"signature": first["signature"], "event-data": {"id": "x", **spam}}
    answer = await web.post("/webhooks/mailgun", json=replay)
    assert answer.status_code == 409
    assert [n for n, _ in await events_of(store, message.contact_id)] == ["Email Opened"]
    assert not await SuppressionRepo(store.engine).is_suppressed(message.to_address or "")


async def test_mailgun_refuses_everything_until_its_signing_key_is_set(store: Store) -> None:
    app = FastAPI()
    app.state.store = store
    app.include_router(make_webhooks_router(MessagingPolicy(public_url=BASE, secret_key="k")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as web:
        answer = await web.post("/webhooks/mailgun", json=mailgun({"event": "opened"}, key=""))
    assert answer.status_code == 401
