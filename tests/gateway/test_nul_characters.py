"""U+0000 in any string of a call is refused with the field named, the same on both backends.

PostgreSQL's text and jsonb cannot hold it (SQLite can): unchecked, one such item made the
whole batch a 500 on PostgreSQL and lost the valid items beside it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from store import Store
from store.schema import contacts, events, identities
from tests.gateway.both_backends import db, pg_store, store, tag

__all__ = ["db", "pg_store", "store", "tag"]

NUL = "\x00"


async def stored(store: Store, tag: str) -> tuple[set[str], set[str], set[str]]:
    """The message ids, contact ids and linked ids the test wrote (``tag`` in them)."""
    like = f"%{tag}%"
    async with store.engine.connect() as conn:
        found = [
            set((await conn.execute(sa.select(column).where(column.like(like)))).scalars())
            for column in (events.c.message_id, contacts.c.id, identities.c.id)
        ]
    return found[0], found[1], found[2]


def bad_items(tag: str) -> list[tuple[dict[str, Any], str]]:
    """Calls with a NUL in one string each, and the field the answer must name."""
    user = f"u-{tag}"

    def track(n: int, **fields: Any) -> dict[str, Any]:
        call = {"type": "track", "userId": user, "event": "Viewed", "messageId": f"m{n}-{tag}"}
        return {**call, **fields}

    return [
        (track(1, userId=f"u{NUL}-{tag}"), "userId"),
        (track(2, event=f"Sign{NUL}ed Up"), "event"),
        (track(3, messageId=f"m3{NUL}-{tag}"), "messageId"),
        (
            {
                "type": "identify",
                "userId": f"ada-{tag}",
                "messageId": f"m4-{tag}",
                "traits": {"email": "ada@example.com", "firstName": f"Ada{NUL}"},
            },
            "traits.firstName",
        ),
        (
            track(5, properties={"items": [{"sku": "a", "name": f"x{NUL}"}]}),
            "properties.items[0].name",
        ),
        (track(6, context={"page": {f"ur{NUL}l": "/"}}), "context.page"),
        (
            {"type": "page", "anonymousId": f"a{NUL}-{tag}", "messageId": f"m7-{tag}"},
            "anonymousId",
        ),
        (
            {
                "type": "alias",
                "userId": user,
                "previousId": f"p{NUL}-{tag}",
                "messageId": f"m8-{tag}",
            },
            "previousId",
        ),
    ]


async def test_a_batch_stores_the_good_item_and_lists_each_nul_with_its_field(
    client: httpx.AsyncClient, store: Store, tag: str
) -> None:
    good = {"type": "page", "userId": f"u-{tag}", "name": "Home", "messageId": f"good-{tag}"}
    bad = bad_items(tag)

    response = await client.post("/v1/batch", json={"batch": [good, *(item for item, _ in bad)]})

    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["messageId"] for r in body["results"]] == [f"good-{tag}"]
    refused = [(r["index"], r["field"]) for r in body["refused"]]
    assert refused == [(index, field) for index, (_, field) in enumerate(bad, start=1)]
    for r in body["refused"]:
        assert "NUL character (U+0000)" in r["reason"], r
    record = await store.events.get(f"good-{tag}")
    assert record is not None and record.name == "Page Viewed"
    assert await stored(store, tag) == ({f"good-{tag}"}, {f"u-{tag}"}, set())


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"event": f"Signed{NUL}Up"}, "event"),
        ({"userId": f"u{NUL}"}, "userId"),
        ({"properties": {"plan": {"tiers": ["free", f"pro{NUL}"]}}}, "properties.plan.tiers[1]"),
    ],
)
async def test_a_single_track_with_a_nul_is_a_422_naming_the_field(
    client: httpx.AsyncClient, store: Store, tag: str, fields: dict[str, Any], field: str
) -> None:
    call = {"userId": f"u-{tag}", "event": "Signed Up", "messageId": f"t-{tag}", **fields}

    response = await client.post("/v1/track", json=call)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field
    assert "NUL character (U+0000)" in body["message"]
    assert await stored(store, tag) == (set(), set(), set())


async def test_a_single_identify_with_a_nul_trait_stores_no_profile(
    client: httpx.AsyncClient, store: Store, tag: str
) -> None:
    call = {"userId": f"ada-{tag}", "messageId": f"i-{tag}", "traits": {"firstName": f"A{NUL}"}}

    response = await client.post("/v1/identify", json=call)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "traits.firstName"
    assert await stored(store, tag) == (set(), set(), set())
