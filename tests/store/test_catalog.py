"""The catalog on SQLite and PostgreSQL: upserts, stock updates, recommendations, cart checks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from store import Store
from store.catalog_models import ProductIn
from store.recommend import available, complementary
from store.records import EventRecord
from store.schema_catalog import catalog_products

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def product(pid: str, **fields: Any) -> ProductIn:
    base: dict[str, Any] = {"id": pid, "name": pid.title(), "price": 10.0, "currency": "EUR"}
    return ProductIn.model_validate({**base, **fields})


@pytest.fixture
async def cat(db: Store) -> AsyncIterator[Store]:
    """The store with an empty catalog (the PostgreSQL store is shared by the session)."""
    async with db.engine.begin() as conn:
        await conn.execute(catalog_products.delete())
    yield db


async def order(store: Store, contact: str, *items: tuple[str, int], days_ago: int = 1) -> None:
    at = NOW - timedelta(days=days_ago)
    await store.events.append(
        EventRecord(
            message_id=uuid.uuid4().hex,
            contact_id=contact,
            name="Order Completed",
            properties={"products": [{"product_id": p, "quantity": q} for p, q in items]},
            timestamp=at,
            received_at=at,
        )
    )


async def test_upsert_creates_then_updates_only_the_fields_sent(cat: Store) -> None:
    first = await cat.catalog.upsert(
        [product("cam", category="cameras", stock=4, related=["lens", "bag", "cam"])], now=NOW
    )
    assert (first.created, first.updated, first.refused) == (1, 0, [])
    again = await cat.catalog.upsert([ProductIn(id="cam", stock=0)], now=NOW)
    assert (again.created, again.updated) == (0, 1)
    cam = await cat.catalog.get("cam")
    assert cam is not None
    assert (cam.name, cam.category, cam.stock, cam.in_stock) == ("Cam", "cameras", 0, False)
    assert cam.related == ["lens", "bag"], "a product is never its own companion"
    await cat.catalog.upsert([ProductIn(id="cam", in_stock=True)], now=NOW)
    cam = await cat.catalog.get("cam")
    assert cam is not None and (cam.stock, cam.in_stock) == (None, True)


async def test_an_unknown_product_without_price_is_refused_naming_the_field(cat: Store) -> None:
    result = await cat.catalog.upsert(
        [product("ok"), ProductIn(id="ghost", stock=3), ProductIn(id="ok", price=12.5)]
    )
    assert result.created == 1
    [refused] = result.refused
    assert (refused.index, refused.id, refused.field) == (1, "ghost", "products.1.name")
    ok = await cat.catalog.get("ok")
    assert ok is not None and ok.price == 12.5, "a later item of the batch wins"
    assert await cat.catalog.get("ghost") is None


async def test_price_in_another_currency(cat: Store) -> None:
    await cat.catalog.upsert([product("p", prices=[{"amount": 11.5, "currency": "USD"}])])
    p = await cat.catalog.get("p")
    assert p is not None
    assert p.price_in("USD") == (11.5, "USD")
    assert p.price_in("GBP") == (10.0, "EUR")


async def test_complementary_related_in_stock_not_bought_then_best_sellers(cat: Store) -> None:
    await cat.catalog.upsert(
        [
            product("camera", category="photo", related=["lens", "bag", "strap", "sold-out"]),
            product("lens", category="photo"),
            product("bag", category="photo"),
            product("strap", category="photo"),
            product("sold-out", category="photo", stock=0),
            product("tripod", category="photo"),
            product("flash", category="photo"),
            product("mug", category="kitchen"),
        ]
    )
    await order(cat, "someone", ("flash", 5), ("tripod", 2), ("mug", 9))
    await order(cat, "someone", ("flash", 1), days_ago=200)  # outside the window
    await order(cat, "buyer", ("bag", 1), days_ago=30)
    picks = await complementary(cat.catalog, "buyer", ["camera"], now=NOW, limit=3)
    assert [p.id for p in picks] == ["lens", "strap", "flash"]
    more = await complementary(cat.catalog, "buyer", ["camera"], now=NOW, limit=5)
    assert [p.id for p in more] == ["lens", "strap", "flash", "tripod"], "never another category"


async def test_best_sellers_count_units_in_the_window(cat: Store) -> None:
    await cat.catalog.upsert([product(p, category="c") for p in ("a", "b", "c")])
    await order(cat, "x", ("a", 1), ("b", 3))
    await order(cat, "y", ("a", 1))
    await order(cat, "z", ("c", 50), days_ago=120)
    best = await cat.catalog.best_sellers("c", since=NOW - timedelta(days=90))
    assert [p.id for p in best] == ["b", "a"]


async def test_a_cart_keeps_in_stock_items_swaps_or_drops_the_others(cat: Store) -> None:
    await cat.catalog.upsert(
        [
            product("shoe", alternatives=["shoe-2", "shoe-3"], stock=0),
            product("shoe-2", stock=0),
            product("shoe-3", stock=2),
            product("sock", stock=9),
            product("hat", alternatives=["sock"], in_stock=False),
        ]
    )
    result = await available(cat.catalog, ["shoe", "sock", "hat", "unlisted"])
    lines = [
        (line.wanted, line.product.id if line.product else None, line.status)
        for line in result.lines
    ]
    assert lines == [
        ("shoe", "shoe-3", "replaced"),
        ("sock", "sock", "in_stock"),
        ("unlisted", None, "unknown"),
    ]
    assert result.dropped == ["hat"], "an alternative already in the cart is not offered twice"
