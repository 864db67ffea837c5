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


async def upgrade_of(store: Store, plan: str) -> str | None:
    found = await ActivityEnvironment().run(
        CatalogActivities(store).recommend_products,
        RecommendProducts(contact_id="sub", product_ids=[plan]),
    )
    return found.upgrade.id if found.upgrade is not None else None


async def test_the_upgrade_is_the_next_tier_the_catalog_prices_above(store: Store) -> None:
    # The shop's own tiers, whatever their names: ordered by price within the plan family.
    await store.catalog.upsert(
        [
            product("starter", category="plans", plan_tier="starter", price=5.0),
            product("team", category="plans", plan_tier="team", price=15.0),
            product("business", category="plans", plan_tier="business", price=40.0),
            product("scale", category="plans", plan_tier="scale", price=90.0, in_stock=False),
            product("other-pro", category="other", plan_tier="pro", price=20.0),
            product("lens", category="plans", price=30.0),  # not a plan
        ]
    )
    assert await upgrade_of(store, "starter") == "team"
    assert await upgrade_of(store, "team") == "business"
    assert await upgrade_of(store, "business") is None  # the next one up is out of stock


async def test_a_plan_that_names_its_upgrade_gets_that_one(store: Store) -> None:
    await store.catalog.upsert(
        [
            product("solo", category="a", plan_tier="solo", price=5.0, related=["max"]),
            product("plus", category="a", plan_tier="plus", price=9.0),
            product("max", category="b", plan_tier="max", price=30.0),
        ]
    )
    assert await upgrade_of(store, "solo") == "max"


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
