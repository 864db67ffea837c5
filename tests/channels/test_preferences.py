"""The preference centre shows SMS and push topics beside email, and records their changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from activities.policy import MessagingPolicy
from store import Store
from store.push_subscriptions import PushSubscription
from tests.channels.conftest import add_contact, grant_sms, make_sender, send, send_request
from tests.messaging.conftest import messaging_app

BASE = "https://links.test"


@pytest.fixture
async def web(store: Store, policy: MessagingPolicy) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=messaging_app(store, policy))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def test_sms_and_push_boxes_per_topic(
    store: Store, policy: MessagingPolicy, tmp_path: Path, web: httpx.AsyncClient
) -> None:
    sender = make_sender(store, policy, tmp_path)
    contact = await add_contact(store, locale="fr")
    await grant_sms(store, contact)
    await store.push.add(
        PushSubscription(
            contact_id=contact,
            endpoint="https://push.example/e/1",
            p256dh="B" * 40,
            auth="a" * 16,
            created_at=datetime.now(UTC),
        )
    )
    delivery = await send(sender, send_request(contact, channel="email"))
    message = await store.messages.by_message_id(delivery.message_id)
    assert message is not None
    path = message.headers["List-Unsubscribe"].split(",")[0].strip(" <>").removeprefix(BASE)
    page = await web.get(path)
    assert 'id="sms_topic-marketing" checked' in " ".join(page.text.split())
    assert "par SMS" in page.text and "en notifications push" in page.text
    # Keep email and push marketing, drop SMS marketing, take SMS newsletter.
    form = {
        "topic": ["marketing"],
        "sms_topic": ["newsletter"],
        "push_topic": ["marketing"],
        "action": "save",
    }
    assert (await web.post(f"{path}/preferences", data=form)).status_code == 200
    sms = await store.consent.state(contact, "sms")
    assert sms["marketing"][0] == "withdrawn" and sms["newsletter"][0] == "granted"
    push = await store.consent.state(contact, "push")
    assert push["newsletter"][0] == "withdrawn" and "marketing" not in push
    events = [e.properties for e in await store.events.unrouted(100) if e.contact_id == contact]
    assert any(e.get("channel") == "sms" and e["topic"] == "marketing" for e in events)
    assert any(e.get("channel") == "push" and e["topic"] == "newsletter" for e in events)
    refused = await send(sender, send_request(contact))
    assert refused.status == "refused" and refused.reason == "unsubscribed"
    # Leaving everything leaves every channel.
    await web.post(f"{path}/preferences", data={"action": "leave"})
    assert (await store.consent.state(contact, "sms"))["*"][0] == "withdrawn"
    assert (await store.consent.state(contact, "push"))["*"][0] == "withdrawn"


async def test_no_channel_boxes_for_a_contact_without_phone_or_push(
    store: Store, policy: MessagingPolicy, tmp_path: Path, web: httpx.AsyncClient
) -> None:
    sender = make_sender(store, policy, tmp_path)
    contact = await add_contact(store, phone=None)
    delivery = await send(sender, send_request(contact, channel="email"))
    message = await store.messages.by_message_id(delivery.message_id)
    assert message is not None
    path = message.headers["List-Unsubscribe"].split(",")[0].strip(" <>").removeprefix(BASE)
    page = await web.get(path)
    assert "sms_topic" not in page.text and "push_topic" not in page.text
