"""The HTTP contract: what is stored, what is refused (and which field is named)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from store import Store
from tests.gateway.conftest import FakeRouter, eventually


def track(user: str = "u-1", event: str = "Signed Up", **extra: object) -> dict:
    return {"userId": user, "event": event, "properties": {"plan": "free"}, **extra}


async def routed(store: Store, message_id: str) -> bool:
    record = await store.events.get(message_id)
    return record is not None and record.routed_at is not None


async def test_track_is_stored_then_routed(
    client: httpx.AsyncClient, store: Store, fake_router: FakeRouter
) -> None:
    response = await client.post("/v1/track", json=track(messageId="m-1"))

    assert response.status_code == 200
    assert response.json() == {"success": True, "messageId": "m-1", "duplicate": False}
    record = await store.events.get("m-1")
    assert record is not None
    assert (record.contact_id, record.type, record.name) == ("u-1", "track", "Signed Up")
    assert record.properties == {"plan": "free"}
    assert await store.contacts.get("u-1") is not None  # first seen through track
    await eventually(lambda: routed(store, "m-1"))
    [(contact_id, event)] = fake_router.calls
    assert contact_id == "u-1"
    assert (event.message_id, event.name, event.properties) == (
        "m-1",
        "Signed Up",
        {"plan": "free"},
    )


async def test_missing_message_id_and_timestamp_are_filled_in(
    client: httpx.AsyncClient, store: Store
) -> None:
    before = datetime.now(UTC)
    response = await client.post("/v1/track", json=track())

    assert response.status_code == 200
    message_id = response.json()["messageId"]
    assert uuid.UUID(message_id).version == 4
    record = await store.events.get(message_id)
    assert record is not None
    assert record.timestamp.tzinfo is not None
    assert before <= record.timestamp <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2026-01-02T03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),  # naive means UTC
        ("2026-01-02T05:04:05+02:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
async def test_timestamp_is_event_time_in_utc(
    client: httpx.AsyncClient, store: Store, sent: str, stored: datetime
) -> None:
    response = await client.post("/v1/track", json=track(messageId="m-t", timestamp=sent))

    assert response.status_code == 200
    record = await store.events.get("m-t")
    assert record is not None
    assert record.timestamp == stored


async def test_repeated_message_id_is_stored_and_routed_once(
    client: httpx.AsyncClient, store: Store, fake_router: FakeRouter
) -> None:
    first = await client.post("/v1/track", json=track(messageId="m-dup"))
    await eventually(lambda: routed(store, "m-dup"))
    again = await client.post("/v1/track", json=track(messageId="m-dup", event="Order Completed"))
    # A later event proves the relay ran after the duplicate arrived.
    await client.post("/v1/track", json=track(messageId="m-next"))
    await eventually(lambda: routed(store, "m-next"))

    assert first.json()["duplicate"] is False
    assert again.status_code == 200
    assert again.json() == {"success": True, "messageId": "m-dup", "duplicate": True}
    assert [e.message_id for e in await store.events.for_contact("u-1")] == ["m-next", "m-dup"]
    assert (await store.events.get("m-dup")).name == "Signed Up"  # the first one stays
    assert fake_router.message_ids == ["m-dup", "m-next"]


async def test_extra_segment_fields_are_ignored(client: httpx.AsyncClient, store: Store) -> None:
    body = track(
        messageId="m-sdk",
        anonymousId="anon-1",
        context={"library": {"name": "analytics-python"}, "ip": "10.0.0.1"},
        integrations={"All": True},
        sentAt="2026-01-02T03:04:05Z",
        type="track",
    )
    response = await client.post("/v1/track", json=body)

    assert response.status_code == 200
    assert await store.events.get("m-sdk") is not None


async def test_snake_case_twins_of_fields_are_extras_not_the_fields(
    client: httpx.AsyncClient, store: Store
) -> None:
    # Segment names fields in camelCase; ``message_id`` is an unknown extra, whatever it holds.
    body = track(message_id=[1, 2], user_id={"x": 1})
    response = await client.post("/v1/track", json=body)

    assert response.status_code == 200, response.text
    stored = await store.events.get(response.json()["messageId"])
    assert stored is not None and stored.contact_id == "u-1"


async def test_numeric_user_id_is_the_same_user_as_its_string(
    client: httpx.AsyncClient, store: Store
) -> None:
    response = await client.post("/v1/track", json=track(user=42, messageId="m-42"))  # type: ignore[arg-type]

    assert response.status_code == 200
    assert (await store.events.get("m-42")).contact_id == "42"


async def test_identify_merges_traits_by_event_time(
    client: httpx.AsyncClient, store: Store, fake_router: FakeRouter
) -> None:
    calls = [
        {
            "traits": {"email": "Ada@Example.COM", "firstName": "Ada"},
            "timestamp": "2026-01-02T00:00:00Z",
        },
        {"traits": {"firstName": "Augusta", "plan": "pro"}, "timestamp": "2026-01-03T00:00:00Z"},
        # Older than what is known: must not overwrite firstName, but adds a new trait.
        {"traits": {"firstName": "Stale", "city": "London"}, "timestamp": "2026-01-01T00:00:00Z"},
    ]
    for index, call in enumerate(calls):
        response = await client.post(
            "/v1/identify", json={"userId": "u-ada", "messageId": f"i-{index}", **call}
        )
        assert response.status_code == 200, response.text
        assert response.json()["duplicate"] is False

    contact = await store.contacts.get("u-ada")
    assert contact is not None
    assert contact.email == "Ada@example.com"
    assert contact.first_name == "Augusta"
    assert contact.traits["plan"] == "pro"
    assert contact.traits["city"] == "London"
    record = await store.events.get("i-0")
    assert record is not None
    assert (record.type, record.name) == ("identify", "identify")
    assert record.routed_at is not None  # nothing for the relay to do
    assert "Ada@Example.COM" not in str(record.properties)  # values stay in the profile
    assert fake_router.calls == []


async def test_repeated_identify_is_a_duplicate(client: httpx.AsyncClient, store: Store) -> None:
    body = {"userId": "u-2", "messageId": "i-dup", "traits": {"plan": "free"}}
    first = await client.post("/v1/identify", json=body)
    again = await client.post("/v1/identify", json=body | {"traits": {"plan": "pro"}})

    assert first.json()["duplicate"] is False
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert (await store.contacts.get("u-2")).traits == {"plan": "free"}
    assert len(await store.events.for_contact("u-2")) == 1


async def test_invalid_email_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, store: Store
) -> None:
    response = await client.post(
        "/v1/identify", json={"userId": "u-bad", "messageId": "i-bad", "traits": {"email": "nope"}}
    )

    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["field"]) == ("invalid_request", "traits.email")
    assert body["message"]
    assert await store.contacts.get("u-bad") is None
    assert await store.events.get("i-bad") is None


async def test_invalid_json_is_a_400(client: httpx.AsyncClient, store: Store) -> None:
    response = await client.post(
        "/v1/track",
        content=b'{"userId": "u-1", "event": ',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["field"]) == ("invalid_request", "body")
    assert "JSON" in body["message"]
    assert await store.events.unrouted() == []


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/track", {"event": "Signed Up"}, "userId"),
        ("/v1/track", {"userId": "", "event": "Signed Up"}, "userId"),
        ("/v1/identify", {"traits": {"plan": "free"}}, "userId"),
        ("/v1/track", {"userId": "u-1"}, "event"),
        ("/v1/track", {"userId": "u-1", "event": "X", "properties": [1]}, "properties"),
        ("/v1/track", {"userId": "u-1", "event": "X", "timestamp": "yesterday"}, "timestamp"),
        ("/v1/identify", {"userId": "u-1", "traits": "ada@example.com"}, "traits"),
        ("/v1/track", ["not", "an", "object"], "body"),
        (
            "/v1/track",
            {"userId": "u", "event": "Unsubscribed", "properties": {"topic": ""}},
            "properties.topic",
        ),
        (
            "/v1/track",
            {"userId": "u", "event": "Unsubscribed", "properties": {"topic": 5}},
            "properties.topic",
        ),
        ("/v1/identify", {"userId": "u", "traits": {"firstName": {"a": 1}}}, "traits.firstName"),
        ("/v1/identify", {"userId": "u", "traits": {"lastName": "x" * 300}}, "traits.lastName"),
        ("/v1/identify", {"userId": "u", "traits": {"locale": "x" * 50}}, "traits.locale"),
        ("/v1/identify", {"userId": "u", "traits": {"phone": ["1"]}}, "traits.phone"),
        (
            "/v1/identify",
            {"userId": "u", "traits": {"address": {"city": [1]}}},
            "traits.address.city",
        ),
    ],
)
async def test_invalid_field_is_named(
    client: httpx.AsyncClient, store: Store, path: str, body: object, field: str
) -> None:
    response = await client.post(path, json=body)

    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "invalid_request"
    assert payload["field"] == field
    assert payload["message"]
    assert await store.events.unrouted() == []


async def test_batch_stores_every_call_in_order(
    client: httpx.AsyncClient, store: Store, fake_router: FakeRouter
) -> None:
    batch = [
        {"type": "identify", "userId": "u-b", "messageId": "b-0", "traits": {"email": "b@x.io"}},
        {"type": "track", "userId": "u-b", "messageId": "b-1", "event": "Signed Up"},
        {"type": "track", "userId": "u-b", "messageId": "b-2", "event": "Email Opened"},
    ]
    response = await client.post("/v1/batch", json={"batch": batch, "context": {}})

    assert response.status_code == 200
    assert [r["messageId"] for r in response.json()["results"]] == ["b-0", "b-1", "b-2"]
    assert (await store.contacts.get("u-b")).email == "b@x.io"
    await eventually(lambda: routed(store, "b-2"))
    assert fake_router.message_ids == ["b-1", "b-2"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"type": "track", "userId": "u-b", "messageId": "b-2"}, "event"),
        ({"type": "track", "event": "X", "messageId": "b-2"}, "userId"),
        ({"type": "identify", "userId": "u-b", "traits": {"email": "@@"}}, "traits.email"),
        ({"type": "sing", "userId": "u-b", "name": "Home"}, "type"),
        ({"userId": "u-b", "event": "X"}, "type"),
        ("not an object", ""),
    ],
)
@pytest.mark.parametrize("path", ["/v1/batch", "/v1/import"])  # import: Segment's alias
async def test_batch_stores_the_valid_calls_and_lists_the_refused_one(
    client: httpx.AsyncClient, store: Store, bad: object, field: str, path: str
) -> None:
    batch = [
        {"type": "identify", "userId": "u-b", "messageId": "b-0", "traits": {"email": "b@x.io"}},
        bad,
        {"type": "track", "userId": "u-b", "messageId": "b-1", "event": "Signed Up"},
    ]
    response = await client.post(path, json={"batch": batch})

    assert response.status_code == 200
    body = response.json()
    assert [r["messageId"] for r in body["results"]] == ["b-0", "b-1"]
    [refused] = body["refused"]
    assert (refused["index"], refused["field"]) == (1, field)
    assert refused["reason"]
    assert (await store.contacts.get("u-b")).email == "b@x.io"
    assert {e.message_id for e in await store.events.for_contact("u-b")} == {"b-0", "b-1"}


async def test_empty_batch_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/batch", json={"batch": []})

    assert response.status_code == 422
    assert response.json()["field"] == "batch"


@pytest.mark.parametrize(
    ("properties", "marketing", "other"),
    [({}, False, False), ({"topic": "marketing"}, False, True)],
)
async def test_unsubscribed_withdraws_consent_before_answering(
    client: httpx.AsyncClient,
    store: Store,
    fake_router: FakeRouter,
    properties: dict,
    marketing: bool,
    other: bool,
) -> None:
    assert await store.consent.allowed("u-u", "marketing")
    body = {"userId": "u-u", "event": "Unsubscribed", "messageId": "m-u", "properties": properties}

    response = await client.post("/v1/track", json=body)

    assert response.status_code == 200
    assert await store.consent.allowed("u-u", "marketing") is marketing
    assert await store.consent.allowed("u-u", "product-news") is other
    assert await store.consent.allowed("u-u", "transactional")
    # Journeys still hear about it, so they exit at once.
    await eventually(lambda: routed(store, "m-u"))
    assert fake_router.message_ids == ["m-u"]


async def test_an_sms_unsubscribe_withdraws_sms_consent_only(
    client: httpx.AsyncClient, store: Store
) -> None:
    at = datetime.now(UTC)
    await store.consent.set(
        "u-s", "marketing", subscribed=True, source="form", at=at, channel="sms"
    )
    properties = {"topic": "marketing", "channel": "sms"}
    body = {"userId": "u-s", "event": "Unsubscribed", "messageId": "m-s", "properties": properties}

    response = await client.post("/v1/track", json=body)

    assert response.status_code == 200
    assert not await store.consent.allowed("u-s", "marketing", channel="sms")
    assert await store.consent.allowed("u-s", "marketing"), "email consent must stay"
    [entry] = [e for e in await store.consent.history("u-s") if e.source == "api"]
    assert (entry.channel, entry.status) == ("sms", "withdrawn")


async def test_an_unsubscribe_on_an_unknown_channel_is_refused_naming_it(
    client: httpx.AsyncClient,
) -> None:
    body = {"userId": "u-s", "event": "Unsubscribed", "properties": {"channel": "fax"}}

    response = await client.post("/v1/track", json=body)

    assert response.status_code == 422
    assert response.json()["field"] == "properties.channel"


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["store"] == "ok"


async def test_openapi_docs(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    schema = (await client.get("/openapi.json")).json()

    assert docs.status_code == 200
    assert {"/v1/identify", "/v1/track", "/v1/batch", "/healthz"} <= set(schema["paths"])
    refused = schema["paths"]["/v1/track"]["post"]["responses"]["422"]
    assert refused["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
