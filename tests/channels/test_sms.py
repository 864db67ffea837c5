"""SMS through Twilio's Messages API, against a local server that speaks it.

Success, a 4xx refused for good, 429 and 503 retried, a timeout resolved by asking Twilio,
E.164 normalisation and refusal of invalid numbers, and SMS consent per topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.policy import MessagingPolicy
from activities.sending import SendActivities
from store import Store
from tests.channels.conftest import (
    add_contact,
    grant_sms,
    make_sender,
    send,
    send_request,
    sms_contact,
    twilio_provider,
)
from worker.sandbox_servers import TwilioRecorded

Sender = Callable[..., SendActivities]


async def test_sms_is_sent_once_to_the_e164_number(
    twilio: tuple[str, TwilioRecorded], sms_sender: Sender, store: Store
) -> None:
    _, recorded = twilio
    sender = sms_sender()
    req = send_request(await sms_contact(store))
    first = await send(sender, req)
    again = await send(sender, req)
    assert first.status == "sent" and first.provider_id and first.provider_id.startswith("SM")
    # A retried step answers from the ledger: one request reached Twilio.
    assert again.status == "sent" and again.message_id == first.message_id
    [form] = recorded.posts
    assert form["To"] == "+33612345678" and form["From"] == "+33700000001"
    assert "Ada" in form["Body"] and "STOP" in form["Body"]
    stored = await store.messages.get(req.key)
    assert stored is not None and stored.channel == "sms" and stored.provider == "twilio"
    assert stored.to_address == "+33612345678" and stored.html is None
    assert stored.headers["X-Sojourn-Encoding"] == "GSM-7"


async def test_messaging_service_replaces_the_sender(
    twilio: tuple[str, TwilioRecorded], sms_sender: Sender, store: Store
) -> None:
    _, recorded = twilio
    sender = sms_sender(sender=None, messaging_service_sid="MG123")
    assert (await send(sender, send_request(await sms_contact(store)))).status == "sent"
    [form] = recorded.posts
    assert form["MessagingServiceSid"] == "MG123" and "From" not in form


async def test_a_4xx_fails_the_send_for_good(sms_sender: Sender, store: Store) -> None:
    req = send_request(await sms_contact(store, phone="+33 6 12 34 21 61"))
    with pytest.raises(ApplicationError) as info:
        await send(sms_sender(), req)
    assert info.value.type == "ProviderError" and info.value.non_retryable
    assert "21610" in str(info.value)
    stored = await store.messages.get(req.key)
    assert stored is not None and stored.status == "failed"


@pytest.mark.parametrize("number, delay", [("+33612340429", 7.0), ("+33612340503", None)])
async def test_429_and_5xx_are_retried_then_sent(
    number: str,
    delay: float | None,
    twilio: tuple[str, TwilioRecorded],
    sms_sender: Sender,
    store: Store,
) -> None:
    _, recorded = twilio
    sender = sms_sender()
    req = send_request(await sms_contact(store, phone=number))
    with pytest.raises(ApplicationError) as info:
        await send(sender, req)
    assert info.value.type == "ProviderError" and not info.value.non_retryable
    if delay is not None:
        assert info.value.next_retry_delay is not None
        assert info.value.next_retry_delay.total_seconds() == delay
    waiting = await store.messages.get(req.key)
    # Twilio certainly did not take it: back to prepared, so the retry sends.
    assert waiting is not None and waiting.status == "prepared"
    retried = await send(sender, req)
    assert retried.status == "sent"
    assert len(recorded.posts) == 2 and len(recorded.accepted) == 1


async def test_timeout_is_resolved_by_asking_twilio(
    twilio: tuple[str, TwilioRecorded], store: Store, policy: MessagingPolicy, tmp_path: Path
) -> None:
    url, recorded = twilio
    # A client that gives up before the server answers (it takes a second for this number).
    async with httpx.AsyncClient(timeout=0.3) as client:
        sender = make_sender(store, policy, tmp_path, sms=twilio_provider(url, client))
        req = send_request(await sms_contact(store, phone="+33612349999"))
        with pytest.raises(ApplicationError) as timed_out:
            await send(sender, req)
        assert not timed_out.value.non_retryable
        stored = await store.messages.get(req.key)
        # The request left: the outcome is unknown until Twilio is asked.
        assert stored is not None and stored.status == "committing"
        for _ in range(100):  # the server accepts it a second after the request
            if recorded.accepted:
                break
            await asyncio.sleep(0.05)
        resolved = await send(sender, req)
    assert resolved.status == "sent" and resolved.reason == "confirmed"
    assert recorded.lists == 1 and len(recorded.posts) == 1


@pytest.mark.parametrize("phone", ["12", "+33 1"])
async def test_an_invalid_number_is_refused_naming_the_trait(
    phone: str, store: Store, policy: MessagingPolicy, tmp_path: Path
) -> None:
    sender = make_sender(store, policy, tmp_path)
    contact = await sms_contact(store, phone=phone)
    delivery = await send(sender, send_request(contact))
    assert delivery.status == "refused"
    assert delivery.reason is not None and delivery.reason.startswith("invalid_phone")
    assert "trait 'phone'" in delivery.reason and phone not in delivery.reason


async def test_sms_needs_its_own_consent_per_topic(
    store: Store, policy: MessagingPolicy, tmp_path: Path
) -> None:
    sender = make_sender(store, policy, tmp_path)
    contact = await add_contact(store)
    # Email consent (single opt-in) says nothing about SMS.
    assert (await send(sender, send_request(contact, channel="email"))).status == "sent"
    refused = await send(sender, send_request(contact))
    assert refused.status == "refused" and refused.reason == "no_consent"
    await grant_sms(store, contact, topic="newsletter")
    assert (await send(sender, send_request(contact))).reason == "no_consent"
    await grant_sms(store, contact)
    assert (await send(sender, send_request(contact))).status == "sent"
    await store.consent.set(
        contact, "*", subscribed=False, source="sms_keyword", at=datetime.now(UTC), channel="sms"
    )
    stopped = await send(sender, send_request(contact))
    assert stopped.status == "refused" and stopped.reason == "unsubscribed"
    # The email channel is untouched by an SMS STOP.
    assert (await send(sender, send_request(contact, channel="email"))).status == "sent"


async def test_no_phone_is_refused(store: Store, policy: MessagingPolicy, tmp_path: Path) -> None:
    sender = make_sender(store, policy, tmp_path)
    contact = await add_contact(store, phone=None)
    delivery = await send(sender, send_request(contact))
    assert delivery.status == "refused" and delivery.reason == "no_phone"
