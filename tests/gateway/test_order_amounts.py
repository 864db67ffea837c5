"""An Order Completed's amount adds to the contact's total_spent: one past 10^12 is refused.

Unbounded, two orders of ``1e308`` overflowed the sum on PostgreSQL ("value out of range"),
and an integer total past any float (``9`` × 400) failed to convert on both backends: a 500
for the call and for its whole batch.
"""

from __future__ import annotations

import httpx
import pytest

from store import Store
from tests.gateway.both_backends import db, pg_store, store, tag

__all__ = ["db", "pg_store", "store", "tag"]

HUGE = int("9" * 400)


def order(tag: str, n: int, **properties: object) -> dict[str, object]:
    return {
        "type": "track",
        "userId": f"o-{tag}",
        "event": "Order Completed",
        "messageId": f"o{n}-{tag}",
        "properties": properties,
    }


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"total": 1e308}, "properties.total"),
        ({"revenue": -1e13}, "properties.revenue"),
        ({"total": 10, "revenue": HUGE}, "properties.revenue"),
    ],
)
async def test_an_amount_past_the_limit_is_a_422_naming_it(
    client: httpx.AsyncClient, store: Store, tag: str, properties: dict[str, object], field: str
) -> None:
    response = await client.post("/v1/track", json=order(tag, 1, **properties))

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert await store.events.get(f"o1-{tag}") is None


async def test_a_batch_stores_the_orders_within_the_limit(
    client: httpx.AsyncClient, store: Store, tag: str
) -> None:
    batch = [
        order(tag, 1, total=1e12),
        order(tag, 2, total=1e308),
        order(tag, 3, total=1e308),
        order(tag, 4, revenue=HUGE),
        order(tag, 5, total=-1e12, revenue="9" * 400),  # a string amount is not one
    ]

    response = await client.post("/v1/batch", json={"batch": batch})

    assert response.status_code == 200, response.text
    refused = [(r["index"], r["field"]) for r in response.json()["refused"]]
    assert refused == [(1, "properties.total"), (2, "properties.total"), (3, "properties.revenue")]
    profile = await store.contacts.get(f"o-{tag}")
    assert profile is not None
    assert (profile.order_count, profile.total_spent) == (2, 0.0)
