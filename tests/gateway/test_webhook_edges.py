"""Provider webhooks on hostile or odd JSON: never a 500, which providers retry for hours.

Each case below was a 500: a body nested past the JSON parser's depth, a Mailgun signature
field that is no Unicode text (a lone surrogate escape) or an integer past any float (both
before the signature was checked, so for any caller), a ``sojourn_message_id`` that is not a
string, provider ids long enough to make an event id past the column (PostgreSQL), and a
lone surrogate or a non-finite number in a value the event looks up or stores (now ignored
with a 2xx, as a NUL is).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from store import Store
from tests.gateway.both_backends import db, pg_store, store, tag
from tests.gateway.test_nul_other_paths import MAILGUN_KEY as KEY
from tests.gateway.test_nul_other_paths import (
    event_names,
    hooks,
    logs,
    mailgun,
    policy,
    postmark_headers,
    sendgrid_headers,
    sent_message,
)

__all__ = ["db", "hooks", "logs", "pg_store", "policy", "store", "tag"]

DEEP = b"[" * 100_000 + b"]" * 100_000


async def test_a_body_nested_past_the_parser_is_refused_not_a_500(
    hooks: httpx.AsyncClient,
) -> None:
    postmark = await hooks.post("/webhooks/postmark", content=DEEP, headers=postmark_headers())
    sendgrid = await hooks.post("/webhooks/sendgrid", content=DEEP, headers=sendgrid_headers(DEEP))
    mailgun_ = await hooks.post("/webhooks/mailgun", content=DEEP)

    assert (postmark.status_code, sendgrid.status_code) == (400, 400)
    assert mailgun_.status_code == 401  # no body that parses, so no signature


@pytest.mark.parametrize("part", ["timestamp", "token", "signature"])
async def test_a_mailgun_signature_that_is_not_text_is_a_401(
    hooks: httpx.AsyncClient, part: str
) -> None:
    body = mailgun({"event": "delivered", "id": "e1"})
    text = json.dumps(body).replace(json.dumps(body["signature"][part]), '"x\\ud800"', 1)

    answer = await hooks.post("/webhooks/mailgun", content=text)

    assert answer.status_code == 401, answer.text


async def test_a_signed_mailgun_timestamp_past_any_float_is_stale(
    hooks: httpx.AsyncClient,
) -> None:
    timestamp, token = 10**400, uuid.uuid4().hex
    digest = hmac.new(KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    signature = {"timestamp": timestamp, "token": token, "signature": digest}
    body = json.dumps({"signature": signature, "event-data": {"event": "delivered"}})

    answer = await hooks.post("/webhooks/mailgun", content=body)

    assert (answer.status_code, answer.json()) == (401, {"error": "stale signature"})


@pytest.mark.parametrize("message_id", [123, 10**30, 1.5, True, {"id": "x"}, ["x"]])
async def test_a_message_id_that_is_not_a_string_is_not_ours(
    hooks: httpx.AsyncClient, message_id: Any
) -> None:
    metadata = {"sojourn_message_id": message_id}
    postmark = {"RecordType": "Delivery", "MessageID": "pm-1", "Metadata": metadata}
    sendgrid = json.dumps([{"event": "open", "sg_event_id": "s1", **metadata}]).encode()

    answers = [
        await hooks.post("/webhooks/postmark", json=postmark, headers=postmark_headers()),
        await hooks.post(
            "/webhooks/sendgrid", content=sendgrid, headers=sendgrid_headers(sendgrid)
        ),
        await hooks.post(
            "/webhooks/mailgun",
            json=mailgun({"event": "delivered", "id": "m1", "user-variables": metadata}),
        ),
    ]

    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert answers[0].json() == answers[2].json() == {"status": "unknown message"}
    assert answers[1].json() == {"status": "recorded", "count": 0}


@pytest.mark.parametrize("length", [300, 5000])
async def test_long_provider_ids_are_recorded_once(
    hooks: httpx.AsyncClient, store: Store, tag: str, length: int
) -> None:
    message = await sent_message(store, tag)
    ours = {"sojourn_message_id": message.message_id}
    long_id = "é" * length  # longer than the event log's id column, in characters and bytes
    postmark = {"RecordType": "Open", "MessageID": long_id, "Metadata": ours}
    sendgrid = json.dumps([{"event": "click", "sg_event_id": long_id, "url": "https://s.test"}])
    sendgrid = sendgrid.replace('"event"', f'"sojourn_message_id": "{message.message_id}", "event"')
    data = {"event": "delivered", "id": long_id, "timestamp": time.time(), "user-variables": ours}

    for _ in range(2):  # a provider's retry is the same event
        answers = [
            await hooks.post("/webhooks/postmark", json=postmark, headers=postmark_headers()),
            await hooks.post(
                "/webhooks/sendgrid",
                content=sendgrid.encode(),
                headers=sendgrid_headers(sendgrid.encode()),
            ),
            await hooks.post("/webhooks/mailgun", json=mailgun(data)),
        ]
        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]

    assert sorted(await event_names(store, message.contact_id)) == [
        "Email Delivered",
        "Email Link Clicked",
        "Email Opened",
    ]


@pytest.mark.parametrize(
    ("provider", "template", "field"),
    [
        (
            "postmark",
            '{"RecordType": "Click", "MessageID": "p1", "OriginalLink": NaN, %s}',
            "OriginalLink",
        ),
        ("postmark", '{"RecordType": "Open", "MessageID": "p\\ud800", %s}', "MessageID"),
        ("sendgrid", '[{"event": "click", "sg_event_id": "s1", "url": Infinity, %s}]', "[0].url"),
        ("mailgun", '{"event": "delivered", "id": "m\\udfff", %s}', "event-data.id"),
    ],
)
async def test_an_event_with_a_value_the_store_cannot_hold_is_ignored(
    hooks: httpx.AsyncClient,
    store: Store,
    logs: list[Any],
    tag: str,
    provider: str,
    template: str,
    field: str,
) -> None:
    # A lone surrogate or a non-finite number in an id or a stored value was a 500 (on
    # SQLite, PostgreSQL or both); like a NUL, it is answered 2xx and ignored.
    message = await sent_message(store, tag)
    key = "Metadata" if provider == "postmark" else "user-variables"
    ours = json.dumps({"sojourn_message_id": message.message_id})
    body = template.replace("%s", f'"{key}": {ours}' if provider != "sendgrid" else ours[1:-1])
    if provider == "postmark":
        answer = await hooks.post("/webhooks/postmark", content=body, headers=postmark_headers())
    elif provider == "sendgrid":
        raw = body.encode()
        answer = await hooks.post("/webhooks/sendgrid", content=raw, headers=sendgrid_headers(raw))
    else:
        # The event's fields (text, to keep the escape) in a freshly signed envelope.
        text = json.dumps(mailgun({})).replace('"event-data": {', f'"event-data": {body[:-1]}, ')
        answer = await hooks.post("/webhooks/mailgun", content=text)

    assert answer.status_code == 200, answer.text
    assert await event_names(store, message.contact_id) == []
    [entry] = [e for e in logs if e.get("event") == "webhook event ignored"]
    assert (entry["provider"], entry["field"]) == (provider, field)
