"""Twilio's signed webhooks: STOP/ARRET/START through the consent ledger, delivery statuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from activities.policy import MessagingPolicy
from gateway.twilio_inbound import make_twilio_router, twilio_signature
from store import Store
from tests.channels.conftest import add_contact, grant_sms, make_sender, send, send_request
from worker.sandbox_servers import TOKEN

PUBLIC = "https://hooks.sojourn.test"


@pytest.fixture
async def web(store: Store, policy: MessagingPolicy) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.store = store
    app.include_router(make_twilio_router(policy, auth_token=TOKEN, public_url=PUBLIC))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


async def post(
    web: httpx.AsyncClient, path: str, params: dict[str, str], *, token: str = TOKEN
) -> httpx.Response:
    signature = twilio_signature(token, PUBLIC + path, params)
    return await web.post(path, data=params, headers={"X-Twilio-Signature": signature})


def reply(body: str, number: str = "+33612345678") -> dict[str, str]:
    return {"MessageSid": "SMin", "From": number, "To": "+33700000001", "Body": body}


async def events(store: Store, contact: str, name: str) -> list[dict[str, object]]:
    return [e.properties for e in await store.events.for_contact(contact) if e.name == name]


def test_signature_matches_twilios_documented_example() -> None:
    # The reference vector Twilio's helper libraries test against (auth token 12345).
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


async def test_unsigned_or_forged_calls_are_refused(web: httpx.AsyncClient, store: Store) -> None:
    contact = await add_contact(store, phone="+33612345678")
    unsigned = await web.post("/webhooks/twilio/inbound", data=reply("STOP"))
    forged = await post(web, "/webhooks/twilio/inbound", reply("STOP"), token="guess")
    assert unsigned.status_code == forged.status_code == 403
    assert await store.consent.state(contact, "sms") == {}


@pytest.mark.parametrize("path", ["/webhooks/twilio/inbound", "/webhooks/twilio/status"])
@pytest.mark.parametrize("signature", ["é", "\xff\xfe", "RSOYDt4T1cUTdK1PDd93/VVr8B8é"])
async def test_a_signature_beyond_ascii_is_a_403(
    web: httpx.AsyncClient, store: Store, path: str, signature: str
) -> None:
    # Header bytes beyond ASCII read as Latin-1 text: compared as str they were a 500.
    contact = await add_contact(store, phone="+33612345678")
    answer = await web.post(
        path, data=reply("STOP"), headers={"X-Twilio-Signature": signature.encode("latin-1")}
    )
    assert answer.status_code == 403, answer.text
    assert await store.consent.state(contact, "sms") == {}


@pytest.mark.parametrize("word", ["STOP", "arrêt", "Unsubscribe please"])
async def test_stop_withdraws_sms_consent_and_ends_sms_journeys(
    word: str, web: httpx.AsyncClient, store: Store, policy: MessagingPolicy, tmp_path: Path
) -> None:
    sender = make_sender(store, policy, tmp_path)
    contact = await add_contact(store)  # a national number: found through the SMS we sent
    await grant_sms(store, contact)
    assert (await send(sender, send_request(contact))).status == "sent"
    answer = await post(web, "/webhooks/twilio/inbound", reply(word))
    assert answer.status_code == 200 and "<Response>" in answer.text
    [unsubscribed] = await events(store, contact, "Unsubscribed")
    assert unsubscribed == {"topic": "*", "channel": "sms", "source": "sms_keyword"}
    [entry] = [e for e in await store.consent.history(contact) if e.source == "sms_keyword"]
    assert entry.channel == "sms" and entry.status == "withdrawn"
    refused = await send(sender, send_request(contact))
    assert refused.status == "refused" and refused.reason == "unsubscribed"
    # Email consent is another channel's.
    assert (await send(sender, send_request(contact, channel="email"))).status == "sent"
    # A repeated STOP changes nothing and tells no journey twice.
    await post(web, "/webhooks/twilio/inbound", reply("STOP"))
    assert len(await events(store, contact, "Unsubscribed")) == 1


async def test_start_restores_what_was_granted_before(
    web: httpx.AsyncClient, store: Store, policy: MessagingPolicy, tmp_path: Path
) -> None:
    sender = make_sender(store, policy, tmp_path)
    contact = await add_contact(store, phone="+33612345678")
    await grant_sms(store, contact)
    await post(web, "/webhooks/twilio/inbound", reply("STOP"))
    assert (await send(sender, send_request(contact))).reason == "unsubscribed"
    await post(web, "/webhooks/twilio/inbound", reply("START"))
    assert (await send(sender, send_request(contact))).status == "sent"
    # A topic never granted on SMS stays without consent.
    other = await send(sender, send_request(contact, topic="newsletter"))
    assert other.reason == "no_consent"


async def test_other_texts_and_strangers_change_nothing(
    web: httpx.AsyncClient, store: Store
) -> None:
    contact = await add_contact(store, phone="+33612345678")
    await post(web, "/webhooks/twilio/inbound", reply("Hello, STOP later"))
    await post(web, "/webhooks/twilio/inbound", reply("STOP", number="+33699999999"))
    assert await store.consent.state(contact, "sms") == {}


async def test_status_callbacks_become_events_and_dead_numbers_are_suppressed(
    web: httpx.AsyncClient, store: Store, policy: MessagingPolicy, tmp_path: Path
) -> None:
    sender = make_sender(store, policy, tmp_path)
    contact = await add_contact(store)
    await grant_sms(store, contact)
    first = await send(sender, send_request(contact))
    # The outbox provider stands in for Twilio: give the ledger row Twilio's sid.
    await _as_twilio(store, first.message_id, "SM1")
    status = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+33612345678"}
    assert (await post(web, "/webhooks/twilio/status", status)).status_code == 204
    [delivered] = await events(store, contact, "SMS Delivered")
    assert delivered["email_id"] == first.message_id and delivered["channel"] == "sms"
    failed = {**status, "MessageStatus": "undelivered", "ErrorCode": "30006"}
    await post(web, "/webhooks/twilio/status", failed)
    await post(web, "/webhooks/twilio/status", failed)  # Twilio retries: stored once
    [failure] = await events(store, contact, "SMS Failed")
    assert failure["error_code"] == "30006"
    later = await send(sender, send_request(contact))
    assert later.status == "refused" and later.reason == "suppressed"


async def _as_twilio(store: Store, message_id: str, sid: str) -> None:
    from store.schema import messages

    async with store.engine.begin() as conn:
        await conn.execute(
            messages.update()
            .where(messages.c.message_id == message_id)
            .values(provider="twilio", provider_id=sid)
        )
