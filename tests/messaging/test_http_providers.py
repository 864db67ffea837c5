"""Postmark, SendGrid and Mailgun against a real HTTP server speaking their API shapes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import sending
from activities.models import DeliverMessage
from activities.policy import MessagingPolicy
from activities.providers import (
    MailgunProvider,
    PostmarkProvider,
    Provider,
    ProviderError,
    SendGridProvider,
)
from activities.providers.http import retry_after
from store import Store
from tests.messaging.conftest import add_contact, deliver, make_sender, prepare, request
from tests.messaging.fake_providers import Recorded, make_app, serve_app


@pytest.fixture
async def api() -> AsyncIterator[tuple[str, Recorded]]:
    recorded = Recorded()
    async with serve_app(make_app(recorded)) as url:
        yield url, recorded


def build(kind: str, url: str, client: httpx.AsyncClient) -> Provider:
    if kind == "postmark":
        return PostmarkProvider(client, "pm-token", base_url=url)
    if kind == "sendgrid":
        return SendGridProvider(client, "sg-key", base_url=url)
    return MailgunProvider(client, "mg-key", "mg.test", base_url=url)


def sent_fields(kind: str, body: object) -> dict[str, str]:
    """The ids, subject and List-Unsubscribe each API received, in one shape."""
    if kind == "postmark":
        assert isinstance(body, dict)
        headers = {h["Name"]: h["Value"] for h in body["Headers"]}
        return {**body["Metadata"], "subject": body["Subject"], "tag": body["Tag"], **headers}
    if kind == "sendgrid":
        assert isinstance(body, dict)
        args = body["personalizations"][0]["custom_args"]
        return {**args, "subject": body["subject"], "tag": body["categories"][0], **body["headers"]}
    assert isinstance(body, list)
    fields = {k.removeprefix("v:").removeprefix("h:"): v for k, v in body}
    return {**fields, "tag": [v for k, v in body if k == "o:tag"][0]}


@pytest.mark.parametrize("kind", ["postmark", "sendgrid", "mailgun"])
async def test_provider_sends_with_tags_and_headers(
    kind: str, api: tuple[str, Recorded], store: Store, policy: MessagingPolicy
) -> None:
    url, recorded = api
    async with httpx.AsyncClient(timeout=5) as client:
        sender = make_sender(store, build(kind, url, client), policy)
        contact = await add_contact(store)
        req = request(contact)
        await prepare(sender, req)
        delivery = await deliver(sender, req.key)
    assert delivery.status == "sent" and delivery.provider_id
    [(name, _, body)] = recorded.calls
    fields = sent_fields(kind, body)
    assert name == kind
    assert fields["sojourn_message_id"] == delivery.message_id
    assert fields["sojourn_journey"] == "welcome" and fields["tag"] == "welcome"
    assert fields["sojourn_step"] == req.step
    # The idempotency key travels with the message (none of the three dedupes on it).
    assert fields["sojourn_key"] == req.key
    assert fields["X-Sojourn-Idempotency-Key"] == req.key
    assert fields["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize("kind", ["postmark", "sendgrid", "mailgun"])
async def test_provider_errors_map_to_retryable_or_not(
    kind: str, api: tuple[str, Recorded], store: Store, policy: MessagingPolicy
) -> None:
    url, _ = api
    async with httpx.AsyncClient(timeout=5) as client:
        sender = make_sender(store, build(kind, url, client), policy)
        outcomes = {}
        for who in ("ratelimited", "down", "invalid"):
            contact = await add_contact(store, f"{who}-{kind}")
            req = request(contact)
            await prepare(sender, req)
            with pytest.raises(ApplicationError) as info:
                await deliver(sender, req.key)
            outcomes[who] = info.value
    assert not outcomes["ratelimited"].non_retryable
    assert outcomes["ratelimited"].next_retry_delay == timedelta(seconds=7)
    assert not outcomes["down"].non_retryable
    assert outcomes["invalid"].non_retryable
    failed = await store.messages.list(status="failed")
    assert [m.contact_id for m in failed] == [f"invalid-{kind}"]
    # A 429 or 5xx certainly did not send: the message is ready for the retry.
    assert len(await store.messages.list(status="prepared")) == 2


async def test_timeouts_are_retryable_but_maybe_sent() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        provider = PostmarkProvider(client, "pm-token", base_url="http://pm.test")
        with pytest.raises(ProviderError) as info:
            await provider.post("/email", json={})
    assert info.value.retryable and info.value.maybe_sent


def test_retry_after_reads_seconds_and_dates() -> None:
    def response(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after(response("12")) == 12
    assert retry_after(response("Wed, 21 Oct 2015 07:28:00 GMT")) == 0
    assert retry_after(httpx.Response(429)) is None


@pytest.mark.parametrize("kind", ["postmark", "sendgrid", "mailgun"])
async def test_a_send_that_timed_out_is_resolved_by_asking_the_provider(
    kind: str, api: tuple[str, Recorded], store: Store, policy: MessagingPolicy
) -> None:
    url, recorded = api
    # The client gives up before the provider answers; the provider takes it all the same.
    async with httpx.AsyncClient(timeout=0.3) as client:
        sender = make_sender(store, build(kind, url, client), policy)
        contact = await add_contact(store, f"slow-{kind}")
        req = request(contact)
        await prepare(sender, req)
        with pytest.raises(ApplicationError) as timed_out:
            await deliver(sender, req.key)
        assert timed_out.value.type == "ProviderError" and not timed_out.value.non_retryable
        stored = await store.messages.get(req.key)
        assert stored is not None and stored.status == "committing"
        while req.key not in recorded.accepted.get(kind, []):
            await asyncio.sleep(0.05)
        retried = await deliver(sender, req.key)
    assert (retried.status, retried.reason) == ("sent", "confirmed")
    assert len(recorded.calls) == 1 and recorded.searches == 1  # asked, never sent twice


@pytest.mark.parametrize("kind", ["postmark", "sendgrid", "mailgun"])
async def test_a_provider_without_the_message_is_asked_again_then_sent(
    kind: str,
    api: tuple[str, Recorded],
    store: Store,
    policy: MessagingPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, recorded = api
    async with httpx.AsyncClient(timeout=5) as client:
        sender = make_sender(store, build(kind, url, client), policy)
        contact = await add_contact(store)
        req = request(contact)
        await prepare(sender, req)
        # As if a worker died right after recording the hand-over, before the request left.
        assert await store.messages.claim(req.key)
        assert await store.messages.commit(req.key, datetime.now(UTC))
        with pytest.raises(ApplicationError) as pending:
            await deliver(sender, req.key)
        # A search can lag the send API: a "no" right away is not believed yet.
        assert pending.value.type == "OutcomePending" and pending.value.next_retry_delay
        monkeypatch.setattr(sending, "LOOKUP_GRACE", timedelta(0))
        retried = await deliver(sender, req.key)
    assert (retried.status, retried.reason) == ("sent", "resent")
    assert len(recorded.calls) == 1 and recorded.searches == 2


async def test_retry_after_sets_the_next_attempt_and_backoff_stays_bounded(
    api: tuple[str, Recorded], store: Store, policy: MessagingPolicy
) -> None:
    url, _ = api
    async with httpx.AsyncClient(timeout=5) as client:
        sender = make_sender(store, build("postmark", url, client), policy)
        delays = {}
        for who, attempt in (("ratelimited", 12), ("down", 3), ("down", 12)):
            contact = await add_contact(store, f"{who}-{attempt}")
            req = request(contact)
            await prepare(sender, req)
            env = ActivityEnvironment()
            env.info = dataclasses.replace(env.info, attempt=attempt)
            with pytest.raises(ApplicationError) as info:
                await env.run(sender.deliver_message, DeliverMessage(key=req.key))
            delays[(who, attempt)] = info.value.next_retry_delay
            stored = await store.messages.get(req.key)
            assert stored is not None and stored.reason and stored.reason.startswith("retrying")
    # Late in a run of failures a 429 still waits only what the provider asked for...
    assert delays[("ratelimited", 12)] == timedelta(seconds=7)
    # ...and without Retry-After the delay doubles, but never past a minute.
    assert delays[("down", 3)] == timedelta(seconds=4)
    assert delays[("down", 12)] == timedelta(seconds=60)
