"""Fixtures for the channel tests: contacts with phones, SMS consent, senders per channel, and
the local servers (Twilio, the audience receiver) with the client that calls them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.channels import ChannelSet
from activities.models import Delivery, SendMessage
from activities.policy import MessagingPolicy
from activities.providers import OutboxProvider, Provider
from activities.providers.channel_outbox import ChannelOutboxProvider
from activities.providers.twilio import TwilioProvider
from activities.rendering import Renderer
from activities.sending import SendActivities
from store import Store
from tests.messaging.fake_providers import serve_app
from tests.workflows.conftest import make_harness  # noqa: F401  (the journey tests' fixture)
from worker.sandbox_servers import (
    SID,
    TOKEN,
    AudienceRecorded,
    TwilioRecorded,
    make_audience_app,
    make_twilio,
)

TEMPLATE = "cart_escalation/reminder"


@pytest.fixture
def policy() -> MessagingPolicy:
    """No caps or quiet hours unless a test asks."""
    return MessagingPolicy(
        public_url="https://links.test",
        secret_key="test-secret",
        quiet_hours=False,
        frequency_caps=[],
        channel_caps={},
    )


async def add_contact(store: Store, phone: str | None = "06 12 34 56 78", **traits: Any) -> str:
    """A French contact with an email and (by default) a national-format mobile number."""
    contact_id = f"c-{uuid.uuid4().hex[:8]}"
    fields: dict[str, Any] = {"email": f"{contact_id}@example.com", "firstName": "Ada", **traits}
    if phone:
        fields["phone"] = phone
    await store.contacts.identify(contact_id, fields, datetime.now(UTC))
    return contact_id


async def grant_sms(store: Store, contact_id: str, topic: str = "marketing") -> None:
    """The explicit SMS opt-in every marketing SMS needs."""
    await store.consent.set(
        contact_id, topic, subscribed=True, source="form", at=datetime.now(UTC), channel="sms"
    )


def make_sender(
    store: Store, policy: MessagingPolicy, tmp_path: Path, **providers: Provider
) -> SendActivities:
    channels = {
        "sms": ChannelOutboxProvider(tmp_path / "outbox", "sms"),
        "push": ChannelOutboxProvider(tmp_path / "outbox", "push"),
        **providers,
    }
    return SendActivities(
        store,
        Renderer(),
        OutboxProvider(tmp_path / "outbox"),
        "Shop <shop@sojourn.test>",
        policy,
        ChannelSet(store, channels),
    )


def send_request(contact_id: str, channel: str = "sms", **fields: Any) -> SendMessage:
    step = f"01-{TEMPLATE}" + ("" if channel == "email" else f".{channel}")
    values: dict[str, Any] = dict(
        key=f"test/{contact_id}/{uuid.uuid4().hex[:6]}",
        contact_id=contact_id,
        journey="cart_escalation",
        step=step,
        template=TEMPLATE,
        topic="marketing",
        channel=channel,
    )
    values.update(fields)
    return SendMessage(**values)


async def send(sender: SendActivities, req: SendMessage) -> Delivery:
    return await ActivityEnvironment().run(sender.send_message, req)


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[str, TwilioRecorded]]:
    recorded = TwilioRecorded()
    async with serve_app(make_twilio(recorded)) as url:
        yield url, recorded


def twilio_provider(url: str, client: httpx.AsyncClient, **kwargs: Any) -> TwilioProvider:
    options: dict[str, Any] = {"sender": "+33700000001", **kwargs}
    return TwilioProvider(client, SID, TOKEN, base_url=url, **options)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client providers and webhooks call the local servers with."""
    async with httpx.AsyncClient(timeout=5) as c:
        yield c


@pytest.fixture
def sms_sender(
    twilio: tuple[str, TwilioRecorded],
    store: Store,
    policy: MessagingPolicy,
    tmp_path: Path,
    client: httpx.AsyncClient,
) -> Callable[..., SendActivities]:
    """``sms_sender(**provider_options)``: the send activities with Twilio at the local server."""
    url, _ = twilio

    def make(**options: Any) -> SendActivities:
        return make_sender(store, policy, tmp_path, sms=twilio_provider(url, client, **options))

    return make


async def sms_contact(store: Store, phone: str | None = "06 12 34 56 78") -> str:
    """A contact with ``phone`` who granted marketing SMS."""
    contact = await add_contact(store, phone=phone)
    await grant_sms(store, contact)
    return contact


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, AudienceRecorded]]:
    """The audience webhook receiver: its URL and what it received."""
    recorded = AudienceRecorded()
    async with serve_app(make_audience_app(recorded)) as url:
        yield url, recorded
