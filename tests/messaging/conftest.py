"""Fixtures for the messaging tests: a policy, the send activities, the messaging routers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import ActivityEnvironment

from activities.models import DeliverMessage, Delivery, PreparedMessage, PrepareMessage
from activities.policy import MessagingPolicy
from activities.providers import OutboxProvider, Provider
from activities.rendering import Renderer
from activities.sending import SendActivities
from gateway.preferences import make_preferences_router
from gateway.unsubscribe import make_unsubscribe_router
from store import Store

BASE = "https://links.test"


@pytest.fixture
def policy() -> MessagingPolicy:
    """Links on a fake HTTPS host; no caps or quiet hours unless a test asks."""
    return MessagingPolicy(
        public_url=BASE, secret_key="test-secret", quiet_hours=False, frequency_caps=[]
    )


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxProvider:
    return OutboxProvider(tmp_path / "outbox")


def make_sender(store: Store, provider: Provider, policy: MessagingPolicy) -> SendActivities:
    return SendActivities(store, Renderer(), provider, "Shop <shop@sojourn.test>", policy)


@pytest.fixture
def sender(store: Store, outbox: OutboxProvider, policy: MessagingPolicy) -> SendActivities:
    return make_sender(store, outbox, policy)


async def add_contact(store: Store, contact_id: str | None = None, **traits: Any) -> str:
    """A contact with an address (and whatever traits the test adds)."""
    contact_id = contact_id or f"c-{uuid.uuid4().hex[:8]}"
    fields = {"email": f"{contact_id}@example.com", "firstName": "Ada", **traits}
    await store.contacts.identify(contact_id, fields, datetime.now(UTC))
    return contact_id


def request(contact_id: str, template: str = "welcome/hello", **fields: Any) -> PrepareMessage:
    values: dict[str, Any] = dict(
        key=f"test/{contact_id}/{uuid.uuid4().hex[:6]}",
        contact_id=contact_id,
        journey="welcome",
        step="01-" + template,
        template=template,
        topic="marketing",
    )
    values.update(fields)
    return PrepareMessage(**values)


async def prepare(sender: SendActivities, req: PrepareMessage) -> PreparedMessage:
    return await ActivityEnvironment().run(sender.prepare_message, req)


async def deliver(sender: SendActivities, key: str, **fields: Any) -> Delivery:
    return await ActivityEnvironment().run(
        sender.deliver_message, DeliverMessage(key=key, **fields)
    )


async def send(sender: SendActivities, req: PrepareMessage) -> Delivery | PreparedMessage:
    """Prepare then deliver, as a journey's send() does when nothing is held back."""
    prepared = await prepare(sender, req)
    if prepared.status != "prepared":
        return prepared
    return await deliver(sender, req.key)


def messaging_app(store: Store, policy: MessagingPolicy, **kwargs: Any) -> FastAPI:
    """A FastAPI app with the messaging routers, the way the gateway includes them."""
    app = FastAPI()
    app.state.store = store
    app.include_router(make_unsubscribe_router(policy))
    app.include_router(make_preferences_router(policy, **kwargs))
    return app


@pytest.fixture
async def web(store: Store, policy: MessagingPolicy) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the messaging routers (in-process ASGI)."""
    transport = httpx.ASGITransport(app=messaging_app(store, policy))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client
