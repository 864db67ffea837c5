"""Opens, clicks and provider webhooks kick the relay for their contact, as ``/v1/track`` does.

The relay here scans the log only once an hour, so an event reaches the (fake) router only if
the route that recorded it kicked the relay for its contact.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from activities.links import Links
from activities.policy import MessagingPolicy
from gateway.app import create_app
from store import Store
from store.records import MessageRecord
from tests.gateway.conftest import FakeRouter, eventually
from worker.settings import Settings

POSTMARK_USER, POSTMARK_PASSWORD = "pm", "pm-secret"


@pytest.fixture
def slow_scan(settings: Settings) -> Settings:
    """A relay whose catch-up scan never comes during a test: only kicks route events."""
    return settings.model_copy(
        update={
            "relay_interval_seconds": 3600.0,
            "postmark_webhook_username": POSTMARK_USER,
            "postmark_webhook_password": POSTMARK_PASSWORD,
        }
    )


@pytest.fixture
async def web(
    slow_scan: Settings, store: Store, fake_router: FakeRouter
) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(slow_scan, store=store, router_factory=fake_router.factory())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as http,
    ):
        yield http


async def a_message(store: Store) -> MessageRecord:
    contact = f"u-{uuid.uuid4().hex[:8]}"
    message_id = f"msg-{uuid.uuid4().hex}"
    return await store.messages.prepare(
        MessageRecord(
            key=f"welcome:{contact}:hello",
            message_id=message_id,
            contact_id=contact,
            journey="welcome",
            step="hello",
            template="welcome/hello",
            topic="marketing",
            status="sent",
            created_at=datetime.now(UTC),
        )
    )


async def routed(router: FakeRouter, contact_id: str, name: str) -> None:
    async def seen() -> bool:
        return any(c == contact_id and e.name == name for c, e in router.calls)

    await eventually(seen)


def links(settings: Settings) -> Links:
    return Links(MessagingPolicy.from_settings(settings))


async def test_an_open_is_routed_without_waiting_for_the_scan(
    slow_scan: Settings, store: Store, fake_router: FakeRouter, web: httpx.AsyncClient
) -> None:
    message = await a_message(store)
    pixel = urlsplit(links(slow_scan).open_url(message.message_id)).path
    answer = await web.get(pixel)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/gif"
    await routed(fake_router, message.contact_id, "Email Opened")
    [(_, event)] = [(c, e) for c, e in fake_router.calls if c == message.contact_id]
    assert event.properties["email_id"] == message.message_id


async def test_a_click_is_routed_without_waiting_for_the_scan(
    slow_scan: Settings, store: Store, fake_router: FakeRouter, web: httpx.AsyncClient
) -> None:
    message = await a_message(store)
    link = urlsplit(links(slow_scan).click_url(message.message_id, "https://shop.test/a")).path
    answer = await web.get(link)
    assert answer.status_code == 302 and answer.headers["location"] == "https://shop.test/a"
    await routed(fake_router, message.contact_id, "Email Link Clicked")


async def test_a_provider_webhook_event_is_routed_without_waiting_for_the_scan(
    store: Store, fake_router: FakeRouter, web: httpx.AsyncClient
) -> None:
    message = await a_message(store)
    credentials = base64.b64encode(f"{POSTMARK_USER}:{POSTMARK_PASSWORD}".encode()).decode()

    async def post_open() -> httpx.Response:
        return await web.post(
            "/webhooks/postmark",
            headers={"Authorization": f"Basic {credentials}"},
            json={
                "RecordType": "Open",
                "MessageID": "pm-1",
                "ReceivedAt": "2026-12-01T10:00:00Z",
                "Metadata": {"sojourn_message_id": message.message_id},
            },
        )

    assert (await post_open()).json() == {"status": "recorded"}
    await routed(fake_router, message.contact_id, "Email Opened")
    # The same webhook again is stored once and routed once.
    assert (await post_open()).json() == {"status": "recorded"}
    assert await store.events.unrouted() == []
    assert [e.name for c, e in fake_router.calls if c == message.contact_id] == ["Email Opened"]


async def test_a_one_click_unsubscribe_is_routed_without_waiting_for_the_scan(
    slow_scan: Settings, store: Store, fake_router: FakeRouter, web: httpx.AsyncClient
) -> None:
    message = await a_message(store)
    answer = await web.post(urlsplit(links(slow_scan).unsubscribe_url(message.message_id)).path)
    assert answer.json()["status"] == "unsubscribed"
    await routed(fake_router, message.contact_id, "Unsubscribed")


async def test_leaving_in_the_preference_centre_is_routed_without_waiting_for_the_scan(
    slow_scan: Settings, store: Store, fake_router: FakeRouter, web: httpx.AsyncClient
) -> None:
    message = await a_message(store)
    token = links(slow_scan).unsubscribe_token(message.message_id)
    answer = await web.post(f"/u/{token}/preferences", data={"action": "leave"})
    assert answer.status_code == 200
    await routed(fake_router, message.contact_id, "Unsubscribed")


async def test_a_survey_answer_is_routed_without_waiting_for_the_scan(
    slow_scan: Settings, store: Store, fake_router: FakeRouter, web: httpx.AsyncClient
) -> None:
    message = await a_message(store)
    survey = urlsplit(links(slow_scan).survey_url(message.message_id)).path
    answer = await web.post(f"{survey.rstrip('/')}/too_many_emails")
    assert answer.status_code == 200
    await routed(fake_router, message.contact_id, "Survey Answered")
