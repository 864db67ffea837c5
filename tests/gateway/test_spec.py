"""Segment's spec whole: every call type, anonymous visitors, gzip, limits and event times."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from store import Store
from store.identities import anonymous_contact
from tests.gateway.conftest import FakeRouter, eventually


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def routed(store: Store, message_id: str) -> bool:
    record = await store.events.get(message_id)
    return record is not None and record.routed_at is not None


async def test_page_and_screen_are_stored_as_viewed_events(
    client: httpx.AsyncClient, store: Store, fake_router: FakeRouter
) -> None:
    page = {"userId": "u-p", "name": "Pricing", "category": "Docs", "messageId": "p-1"}
    screen = {"userId": "u-p", "name": "Home", "properties": {"tab": 2}, "messageId": "s-1"}

    assert (await client.post("/v1/page", json=page)).status_code == 200
    assert (await client.post("/v1/screen", json=screen)).status_code == 200

    stored_page, stored_screen = await store.events.get("p-1"), await store.events.get("s-1")
    assert (stored_page.type, stored_page.name) == ("track", "Page Viewed")
    assert stored_page.properties == {"name": "Pricing", "category": "Docs"}
    assert (stored_screen.name, stored_screen.properties) == (
        "Screen Viewed",
        {"tab": 2, "name": "Home"},
    )
    # No journey listens to them and no segment rule reads them (gateway/relevance.py): they
    # are stored as routed, and the relay never hands them to the router.
    assert stored_page.routed_at is not None and stored_screen.routed_at is not None
    assert "p-1" not in fake_router.message_ids and "s-1" not in fake_router.message_ids


async def test_group_sets_the_account_traits(client: httpx.AsyncClient, store: Store) -> None:
    body = {"userId": "u-g", "groupId": "acme", "traits": {"name": "Acme", "plan": "pro"}}

    response = await client.post("/v1/group", json=body)

    assert response.status_code == 200
    contact = await store.contacts.get("u-g")
    assert contact.traits["groupId"] == "acme"
    assert contact.traits["group"] == {"id": "acme", "name": "Acme", "plan": "pro"}
    event = await store.events.get(response.json()["messageId"])
    assert (event.type, event.properties) == (
        "group",
        {"groupId": "acme", "traits": ["name", "plan"]},
    )


async def test_anonymous_history_joins_the_user_once_identified(
    client: httpx.AsyncClient, store: Store, fake_router: FakeRouter
) -> None:
    anon = {"anonymousId": "visitor-1"}
    added = {**anon, "event": "Product Added", "messageId": "a-1", "properties": {"sku": "x"}}
    await client.post("/v1/track", json=added)
    await client.post(
        "/v1/identify", json={**anon, "traits": {"plan": "trial"}, "messageId": "a-2"}
    )
    await client.post(
        "/v1/track",
        json={**anon, "event": "Order Completed", "messageId": "a-3", "properties": {"total": 30}},
    )

    ghost = anonymous_contact("visitor-1")
    assert (await store.events.get("a-1")).contact_id == ghost
    assert (await store.contacts.get(ghost)).order_count == 1

    identify = {
        "userId": "ada",
        "anonymousId": "visitor-1",
        "messageId": "a-4",
        "traits": {"email": "ada@example.com"},
    }
    assert (await client.post("/v1/identify", json=identify)).status_code == 200
    # The same link again (SDKs repeat both ids on every call): nothing is merged twice.
    again = {
        "userId": "ada",
        "anonymousId": "visitor-1",
        "event": "Checkout Started",
        "messageId": "a-5",
    }
    assert (await client.post("/v1/track", json=again)).status_code == 200
    # A later anonymous-only call goes straight to the user.
    later = {**anon, "event": "Product Viewed", "messageId": "a-6"}
    assert (await client.post("/v1/track", json=later)).status_code == 200

    assert await store.contacts.get(ghost) is None
    ada = await store.contacts.get("ada")
    assert ada.email == "ada@example.com" and ada.traits["plan"] == "trial"
    assert ada.order_count == 1 and ada.total_spent == 30
    ids = {e.message_id for e in await store.events.for_contact("ada")}
    assert ids == {"a-1", "a-2", "a-3", "a-4", "a-5", "a-6"}
    await eventually(lambda: routed(store, "a-6"))
    # Only what the known user did is routed to journeys; the anonymous past is history.
    assert fake_router.message_ids == ["a-5", "a-6"]


async def test_alias_links_a_previous_id(client: httpx.AsyncClient, store: Store) -> None:
    await client.post(
        "/v1/track", json={"anonymousId": "old-id", "event": "Product Added", "messageId": "al-1"}
    )

    response = await client.post("/v1/alias", json={"previousId": "old-id", "userId": "bob"})
    repeat = await client.post("/v1/alias", json={"previousId": "old-id", "userId": "bob"})

    assert response.status_code == 200 and repeat.status_code == 200
    assert (await store.events.get("al-1")).contact_id == "bob"
    assert await store.identities.resolve("old-id") == "bob"


async def test_first_link_wins(client: httpx.AsyncClient, store: Store) -> None:
    await client.post("/v1/identify", json={"userId": "first", "anonymousId": "shared"})
    await client.post("/v1/identify", json={"userId": "second", "anonymousId": "shared"})

    assert await store.identities.resolve("shared") == "first"
    assert await store.contacts.get("second") is not None  # a userId call is still its user's


@pytest.mark.parametrize("path", ["/v1/alias"])
async def test_alias_needs_both_ids(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, json={"userId": "bob"})

    assert response.status_code == 422
    assert response.json()["field"] == "previousId"


async def test_a_call_without_any_id_names_user_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/page", json={"name": "Home"})

    assert response.status_code == 422
    assert response.json()["field"] == "userId"


async def test_every_sdk_field_is_accepted(client: httpx.AsyncClient, store: Store) -> None:
    now = datetime.now(UTC)
    body = {
        "type": "track",
        "userId": "u-f",
        "anonymousId": None,
        "event": "Signed Up",
        "messageId": "f-1",
        "timestamp": iso(now),
        "originalTimestamp": iso(now),
        "sentAt": iso(now),
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"}, "ip": "1.2.3.4"},
        "integrations": {"All": True},
        "properties": None,
        "_metadata": {"jsRuntime": "node"},
    }
    response = await client.post("/v1/track", json=body)

    assert response.status_code == 200, response.text


async def test_gzip_bodies_are_accepted(client: httpx.AsyncClient, store: Store) -> None:
    batch = {
        "batch": [{"type": "track", "userId": "u-z", "event": "Signed Up", "messageId": "z-1"}]
    }
    response = await client.post(
        "/v1/batch",
        content=gzip.compress(json.dumps(batch).encode()),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert await store.events.get("z-1") is not None


@pytest.mark.parametrize(
    ("content", "headers", "status", "field"),
    [
        (b"not gzip", {"Content-Encoding": "gzip"}, 400, "body"),
        (gzip.compress(b'{"userId": "u"')[:-8], {"Content-Encoding": "gzip"}, 400, "body"),
        (b"{}", {"Content-Encoding": "br"}, 415, "content-encoding"),
        (b"<xml/>", {"Content-Type": "application/xml"}, 415, "content-type"),
    ],
)
async def test_bodies_the_api_cannot_read(
    client: httpx.AsyncClient, content: bytes, headers: dict, status: int, field: str
) -> None:
    response = await client.post(
        "/v1/track", content=content, headers={"Content-Type": "application/json", **headers}
    )

    assert response.status_code == status
    assert response.json()["field"] == field


async def test_a_call_over_32_kb_is_a_413_naming_the_limit(
    client: httpx.AsyncClient, store: Store
) -> None:
    body = {"userId": "u-l", "event": "X", "messageId": "l-1", "properties": {"b": "x" * 33000}}

    response = await client.post("/v1/track", json=body)

    assert response.status_code == 413
    assert "32768" in response.json()["message"]
    assert await store.events.get("l-1") is None


async def test_a_gzip_bomb_is_refused_without_inflating_it(client: httpx.AsyncClient) -> None:
    # 50 MB of zeros is a few KB compressed: under the wire limit, far over the JSON one.
    bomb = gzip.compress(b"[" + b"0," * 25_000_000 + b"0]", compresslevel=9)
    assert len(bomb) < 500 * 1024

    response = await client.post(
        "/v1/batch",
        content=bomb,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert "decompressed" in response.json()["message"]


async def test_a_batch_over_500_kb_is_a_413(client: httpx.AsyncClient, store: Store) -> None:
    item = {"type": "track", "userId": "u-big", "event": "X", "properties": {"b": "x" * 20000}}
    response = await client.post("/v1/batch", json={"batch": [item] * 30})

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert await store.contacts.get("u-big") is None


async def test_chunked_bodies_are_cut_off_at_the_limit(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b" " * 10_000

    response = await client.post(
        "/v1/track", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413


async def test_batch_items_over_their_limits_are_refused_alone(
    client: httpx.AsyncClient, store: Store
) -> None:
    batch = [
        {"type": "track", "userId": "u-i", "event": "X", "messageId": "i-0"},
        {"type": "track", "userId": "u-i", "event": "X", "properties": {"b": "x" * 33000}},
        {"type": "identify", "userId": "u-i", "traits": {"b": "x" * 17000}, "messageId": "i-2"},
        {"type": "track", "userId": "u-i", "event": "X", "context": {"b": "x" * 17000}},
        {"type": "track", "userId": "u-i", "event": "X", "messageId": "i-4"},
    ]
    response = await client.post("/v1/batch", json={"batch": batch})

    assert response.status_code == 200
    body = response.json()
    assert [r["messageId"] for r in body["results"]] == ["i-0", "i-4"]
    assert [(r["index"], r["field"]) for r in body["refused"]] == [
        (1, ""),
        (2, "traits"),
        (3, "context"),
    ]
    assert body["refused"][1]["messageId"] == "i-2"
    assert all("bytes" in r["reason"] for r in body["refused"])


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/identify", {"userId": "u", "traits": {"bio": "x" * 17000}}, "traits"),
        ("/v1/track", {"userId": "u", "event": "X", "context": {"ua": "x" * 17000}}, "context"),
    ],
)
async def test_traits_and_context_limits(
    client: httpx.AsyncClient, path: str, body: dict, field: str
) -> None:
    response = await client.post(path, json=body)

    assert response.status_code == 413
    assert response.json()["field"] == field
    assert "16384" in response.json()["message"]


@pytest.mark.parametrize("body", [{"batch": []}, {"batch": "x"}, {"events": []}, [1, 2]])
async def test_a_body_that_is_not_a_batch_is_a_4xx(client: httpx.AsyncClient, body: object) -> None:
    response = await client.post("/v1/batch", json=body)

    assert response.status_code == 422


async def test_sent_at_corrects_the_clients_clock(client: httpx.AsyncClient, store: Store) -> None:
    # The client's clock is two hours ahead; the event happened 10 s before it was sent.
    skewed = datetime.now(UTC) + timedelta(hours=2)
    item = {
        "type": "track",
        "userId": "u-s",
        "event": "X",
        "messageId": "sk-1",
        "timestamp": iso(skewed - timedelta(seconds=10)),
    }
    before = datetime.now(UTC)
    await client.post("/v1/batch", json={"batch": [item], "sentAt": iso(skewed)})

    stored = await store.events.get("sk-1")
    assert stored.timestamp <= stored.received_at
    assert abs((stored.received_at - stored.timestamp) - timedelta(seconds=10)) < timedelta(
        milliseconds=5
    )
    assert before - timedelta(seconds=11) <= stored.timestamp
    assert stored.original_timestamp == skewed - timedelta(seconds=10)


@pytest.mark.parametrize("sent_at", ["yesterday", 12, {"at": 1}])
async def test_a_malformed_batch_sent_at_is_ignored_and_its_items_kept(
    client: httpx.AsyncClient, store: Store, sent_at: object
) -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    item = {
        "type": "track",
        "userId": "u-sa",
        "event": "X",
        "messageId": "sa-1",
        "timestamp": iso(at),
    }
    response = await client.post("/v1/batch", json={"batch": [item], "sentAt": sent_at})

    assert response.status_code == 200, response.text
    assert response.json()["refused"] == []
    stored = await store.events.get("sa-1")
    assert stored is not None
    assert abs(stored.timestamp - at) < timedelta(milliseconds=5)  # as given: no skew known


async def test_a_future_timestamp_becomes_the_receive_time(
    client: httpx.AsyncClient, store: Store
) -> None:
    body = {
        "userId": "u-fut",
        "event": "X",
        "messageId": "fu-1",
        "timestamp": "9999-12-31T00:00:00Z",
    }
    await client.post("/v1/track", json=body)

    stored = await store.events.get("fu-1")
    assert stored.timestamp == stored.received_at
    assert stored.original_timestamp == datetime(9999, 12, 31, tzinfo=UTC)


async def test_a_created_at_past_the_calendar_in_utc_loses_nothing_in_a_batch(
    client: httpx.AsyncClient, store: Store
) -> None:
    # Valid ISO 8601, past year 9999 once in UTC: was an OverflowError, a 500 for the batch.
    identify = {
        "type": "identify",
        "userId": "u-edge",
        "traits": {"createdAt": "9999-12-31T23:59:59-01:00"},
    }
    track = {"type": "track", "userId": "u-edge", "event": "X", "messageId": "edge-1"}
    response = await client.post("/v1/batch", json={"batch": [identify, track]})

    assert response.status_code == 200, response.text
    assert response.json()["refused"] == []
    assert await store.events.get("edge-1") is not None
    contact = await store.contacts.get("u-edge")
    assert contact is not None and contact.signup_at is not None
    assert contact.signup_at.year == 9999


async def test_no_timestamp_can_lock_a_trait(client: httpx.AsyncClient, store: Store) -> None:
    locked = {
        "userId": "vic",
        "timestamp": "9999-12-31T00:00:00Z",
        "traits": {"email": "attacker@example.com"},
    }
    await client.post("/v1/identify", json=locked)
    await client.post(
        "/v1/identify", json={"userId": "vic", "traits": {"email": "vic@example.com"}}
    )

    assert (await store.contacts.get("vic")).email == "vic@example.com"


async def test_a_trait_stamped_in_the_future_by_old_data_gives_way(store: Store) -> None:
    # Profiles written before the gateway clamped times may hold such stamps.
    from store.contacts import merge_traits

    merged, _ = merge_traits(
        {"email": "old@x.io"},
        {"email": "9999-12-31T00:00:00+00:00"},
        {"email": "new@x.io"},
        datetime.now(UTC),
    )
    assert merged["email"] == "new@x.io"


async def test_unknown_path_and_method_answer_json(client: httpx.AsyncClient) -> None:
    missing = await client.post("/v1/nothing", json={})
    wrong = await client.get("/v1/track")

    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    assert "POST" in wrong.headers["allow"]


async def test_docs_are_served_offline(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/assets/{asset}" in page.text
        served = await client.get(f"/docs/assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 10_000
    assert "cdn" not in page.text.lower()

    schema = (await client.get("/openapi.json")).json()
    track = schema["paths"]["/v1/track"]["post"]
    assert {"400", "401", "405", "413", "415", "422", "429"} <= set(track["responses"])
    assert track["security"]
    assert schema["components"]["securitySchemes"]["writeKeyBasic"]["scheme"] == "basic"
    pixel = schema["paths"]["/t/o/{token}"]["get"]["responses"]["200"]["content"]
    assert list(pixel) == ["image/gif"]
