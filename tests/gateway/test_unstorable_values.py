"""Valid JSON the store cannot hold is refused with the field named, the same on both backends.

A lone surrogate escape (``"\\ud800"``), NaN and Infinity (Python's parser reads them, and
``1e400`` as Infinity), and objects nested about 950 levels deep (short of the parser's limit)
were each stored on one backend and a 500 on the other, or a 500 on both: a 500 for the call
and for its whole batch. Objects nested past 64 levels are refused too: the relay's encoder
(pydantic, to Temporal) stops at about 250, so such an event could never be routed.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from store import Store
from store.storable import DEPTH_MAX
from tests.gateway.both_backends import db, pg_store, store, tag
from tests.gateway.conftest import FakeRouter
from worker.settings import Settings

__all__ = ["db", "pg_store", "store", "tag"]

LONE = '"x\\ud800"'  # JSON text: the escape of a lone surrogate


def nested(levels: int) -> str:
    """JSON text of objects nested ``levels`` deep."""
    return '{"a":' * (levels - 1) + '{"a":1' + "}" * levels


def deep_path(field: str, levels: int) -> str:
    return field + ".a" * (levels - 1)


# (path, fields of the call as JSON text, the field the answer names); "@" is the lone surrogate.
CASES = [
    (path, fields.replace("@", LONE), field)
    for path, fields, field in [
        ("track", '{"properties": {"name": @}}', "properties.name"),
        ("track", '{"properties": {"items": [{"sku": @}]}}', "properties.items[0].sku"),
        ("track", '{"properties": {@: 1}}', "properties"),
        ("track", '{"context": {"page": {"title": @}}}', "context.page.title"),
        ("identify", '{"traits": {"firstName": @}}', "traits.firstName"),
        ("identify", '{"traits": {"tags": [@]}}', "traits.tags[0]"),
        ("identify", '{"traits": {@: "v"}}', "traits"),
        ("track", '{"properties": {"revenue": NaN}}', "properties.revenue"),
        ("track", '{"properties": {"v": [1, Infinity]}}', "properties.v[1]"),
        ("track", '{"context": {"v": -Infinity}}', "context.v"),
        ("identify", '{"traits": {"score": 1e400}}', "traits.score"),
        ("identify", '{"traits": {"score": 1' + "0" * 400 + "}}", "traits.score"),
        (
            "track",
            '{"properties": {"products": [{"sku": "a", "quantity": -9' + "9" * 400 + "}]}}",
            "properties.products[0].quantity",
        ),
        ("track", '{"properties": ' + nested(DEPTH_MAX + 1) + "}", deep_path("properties", 65)),
        ("identify", '{"traits": ' + nested(500) + "}", deep_path("traits", 65)),
    ]
]


def call(path: str, fields: str, tag: str, n: int) -> str:
    """JSON text of a call of ``path`` with ``fields`` (JSON text of an object) merged in."""
    base = {"userId": f"u-{tag}", "messageId": f"m{n}-{tag}", "event": "Viewed"}
    return json.dumps(base)[:-1] + ", " + fields[1:]


@pytest.mark.parametrize(("path", "fields", "field"), CASES)
async def test_a_call_with_an_unstorable_value_is_a_422_naming_the_field(
    client: httpx.AsyncClient, store: Store, tag: str, path: str, fields: str, field: str
) -> None:
    body = call(path, fields, tag, 1)

    response = await client.post(
        f"/v1/{path}", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert (
        "cannot be stored" in response.json()["message"]
        or "levels deep" in (response.json()["message"])
    )
    assert await store.events.get(f"m1-{tag}") is None
    assert await store.contacts.get(f"u-{tag}") is None


async def test_a_batch_lists_each_unstorable_item_and_stores_its_neighbours(
    client: httpx.AsyncClient, store: Store, tag: str
) -> None:
    items = [
        call(path, fields, tag, n)[:-1] + f', "type": "{path}"}}'
        for n, (path, fields, _) in enumerate(CASES)
    ]
    good: dict[str, Any] = {"type": "track", "userId": f"g-{tag}", "event": "Viewed"}
    good["messageId"] = f"good-{tag}"
    body = '{"batch": [' + ", ".join([json.dumps(good), *items]) + "]}"

    response = await client.post(
        "/v1/batch", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text
    answer = response.json()
    assert [r["messageId"] for r in answer["results"]] == [f"good-{tag}"]
    refused = [(r["index"], r["field"]) for r in answer["refused"]]
    assert refused == [(n + 1, field) for n, (_, _, field) in enumerate(CASES)]
    assert await store.events.get(f"good-{tag}") is not None
    assert await store.contacts.get(f"u-{tag}") is None


async def test_nesting_up_to_the_limit_and_surrogate_pairs_are_stored(
    client: httpx.AsyncClient, store: Store, tag: str
) -> None:
    # An escaped pair is one character (U+1F600), as Python's SDK sends non-ASCII by default.
    deep = nested(DEPTH_MAX - 1)  # in properties: DEPTH_MAX levels
    fields = '{"properties": {"deep": ' + deep + ', "smile": "\\ud83d\\ude00"}}'
    body = call("track", fields, tag, 1)

    response = await client.post(
        "/v1/track", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text
    event = await store.events.get(f"m1-{tag}")
    assert event is not None and event.properties["smile"] == "\U0001f600"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ('{"name": "Lens\\ud800"}', "products.1.name"),
        ('{"related": ["cap", "b\\udfffag"]}', "products.1.related.1"),
        ('{"category": "\\ud83d"}', "products.1.category"),
    ],
)
async def test_a_catalog_upsert_with_a_lone_surrogate_is_a_422_and_stores_nothing(
    client: httpx.AsyncClient, store: Store, tag: str, fields: str, field: str
) -> None:
    good = {"id": f"ok-{tag}", "name": "Cap", "price": 10, "currency": "EUR"}
    bad = {"id": f"bad-{tag}", "name": "Lens", "price": 329, "currency": "EUR"}
    body = '{"products": [' + json.dumps(good) + ", " + json.dumps(bad)[:-1] + ", "
    body += fields[1:] + "]}"

    response = await client.post(
        "/v1/catalog/products", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field  # pydantic's own JSON parser refuses it
    assert await store.catalog.get(f"ok-{tag}") is None
    assert await store.catalog.get(f"bad-{tag}") is None


ADMIN_KEY = "admin-" + "k" * 40


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_an_admin_path_id_holding_a_nul_is_a_422(
    fast_settings: Settings, store: Store, method: str
) -> None:
    # No contact can have such an id; PostgreSQL's lookup of one was a 500.
    settings = fast_settings.model_copy(update={"admin_keys": [ADMIN_KEY]})
    app = create_app(settings, store=store, router_factory=FakeRouter().factory())
    path = "/v1/contacts/u%00x" + ("/export" if method == "GET" else "")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway") as http,
    ):
        response = await http.request(
            method, path, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "path.user_id"
