"""The catalog activities in ``ActivityEnvironment``: recommendations and the cart check."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.testing import ActivityEnvironment

from activities.catalog import CatalogActivities
from activities.catalog_models import CartItem, CheckCart, RecommendProducts
from store import Store
from store.catalog_models import ProductIn


def product(pid: str, **fields: object) -> ProductIn:
    base: dict[str, object] = {"id": pid, "name": pid.title(), "price": 10.0, "currency": "EUR"}
    return ProductIn.model_validate({**base, **fields})


async def test_recommendations_price_in_the_contacts_currency(store: Store) -> None:
    await store.contacts.identify("buyer", {"currency": "usd"}, datetime.now(UTC))
    await store.catalog.upsert(
        [
            product("camera", category="photo", related=["lens", "bag"]),
            product("lens", prices=[{"amount": 12.0, "currency": "USD"}]),
            product("bag", stock=0),
        ]
    )
    found = await ActivityEnvironment().run(
        CatalogActivities(store).recommend_products,
        RecommendProducts(contact_id="buyer", product_ids=["camera"]),
    )
    assert [(p.id, p.price, p.currency) for p in found.products] == [("lens", 12.0, "USD")]
    assert found.plan_tier is None and found.upgrade is None


async def test_a_basic_plan_gets_the_premium_upgrade(store: Store) -> None:
    await store.catalog.upsert(
        [
            product("basic", category="plans", plan_tier="basic"),
            product("premium", category="plans", plan_tier="premium", price=25.0),
        ]
    )
    found = await ActivityEnvironment().run(
        CatalogActivities(store).recommend_products,
        RecommendProducts(contact_id="sub", product_ids=["basic"]),
    )
    assert found.plan_tier == "basic"
    assert found.upgrade is not None and found.upgrade.id == "premium"


async def test_the_cart_check_swaps_drops_and_keeps_unknown_priced_items(store: Store) -> None:
    await store.catalog.upsert(
        [
            product("red", stock=0, alternatives=["blue"]),
            product("blue", stock=5),
            product("gone", stock=0),
        ]
    )
    cart = CheckCart(
        contact_id="c",
        items=[
            CartItem(product_id="red", quantity=2, name="Red shoe"),
            CartItem(product_id="gone"),
            CartItem(product_id="elsewhere", name="Gift card", price=20.0, currency="EUR"),
            CartItem(product_id="nameless"),
        ],
    )
    offer = await ActivityEnvironment().run(CatalogActivities(store).check_cart, cart)
    assert [(o.id, o.quantity, o.replaces) for o in offer.items] == [
        ("blue", 2, "red"),
        ("elsewhere", 1, None),
    ]
    assert offer.replaced == ["red"]
    assert offer.dropped == ["gone", "nameless"]
