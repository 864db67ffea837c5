"""Cross-sell and up-sell, branch by branch, on the time-skipping server with real activities."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from store.catalog_models import ProductIn
from tests.workflows.conftest import Harness
from workflows import days, hours
from workflows.models import Event, ExitReason, JourneyResult

JOURNEY = "cross_sell"


def product(pid: str, name: str, **fields: Any) -> ProductIn:
    base: dict[str, Any] = {"id": pid, "name": name, "price": 100.0, "currency": "EUR"}
    return ProductIn.model_validate({**base, **fields})


CAMERA_SHOP = [
    product(
        "camera",
        "Reflex 24 MP",
        category="photo",
        price=899.0,
        related=["lens", "bag", "tripod"],
        image="https://shop.example/camera.jpg",
    ),
    product(
        "lens",
        "Objectif 50 mm",
        category="photo",
        price=249.0,
        prices=[{"amount": 269.0, "currency": "USD"}],
    ),
    product("bag", "Sac photo", category="photo", price=59.0),
    product("tripod", "Trépied", category="photo", stock=0),
    product("plan-basic", "Basic", category="plans", plan_tier="basic", price=9.0),
    product("plan-premium", "Premium", category="plans", plan_tier="premium", price=19.0),
]


async def ordered(h: Harness, *items: tuple[str, float]) -> None:
    properties = {
        "order_id": "A-1",
        "total": sum(p for _, p in items),
        "currency": "EUR",
        "products": [{"product_id": pid, "price": price, "quantity": 1} for pid, price in items],
    }
    await h.router.route(
        h.contact,
        Event(
            message_id=uuid.uuid4().hex,
            name="Order Completed",
            properties=properties,
            timestamp=datetime(2026, 3, 12, 18, tzinfo=UTC),
        ),
    )


async def sent(h: Harness, template: str) -> None:
    async def check() -> bool:
        return template in await h.sent_templates()

    await h.until(check, template)


async def html_of(h: Harness, template: str) -> str:
    [message] = [m for m in await h.messages() if m.template == template]
    return message.html or ""


async def result(h: Harness) -> JourneyResult:
    await h.until(lambda: h.closed(JOURNEY), "cross-sell to end")
    return await h.handle(JOURNEY).result()


async def story(h: Harness) -> list[str]:
    return [r.detail for r in (await h.state(JOURNEY)).history]


async def test_thank_you_with_the_items_then_lenses_and_a_bag(harness: Harness) -> None:
    await harness.store.catalog.upsert(CAMERA_SHOP)
    await ordered(harness, ("camera", 849.0))
    await sent(harness, "cross_sell/thank_you")
    thanks = await html_of(harness, "cross_sell/thank_you")
    assert "Reflex 24 MP" in thanks and "€849.00" in thanks, (
        "the name from the catalog, the price paid"
    )
    assert "https://shop.example/camera.jpg" in thanks
    await harness.skip(days(6) + hours(23))
    assert await harness.sent_templates() == ["cross_sell/thank_you"]
    await harness.skip(hours(2))
    res = await result(harness)
    assert res.exit_reason is ExitReason.completed
    suggestion = await html_of(harness, "cross_sell/suggestion")
    assert "Objectif 50 mm" in suggestion and "Sac photo" in suggestion
    assert "Trépied" not in suggestion, "out of stock"
    assert "Reflex" not in suggestion, "not what they just bought"


async def test_prices_in_the_contacts_locale_and_currency(harness: Harness) -> None:
    await harness.store.contacts.identify(
        harness.contact, {"locale": "fr", "currency": "USD"}, datetime.now(UTC)
    )
    await harness.store.catalog.upsert(CAMERA_SHOP)
    await ordered(harness, ("camera", 849.0))
    await sent(harness, "cross_sell/thank_you")
    await harness.skip(days(7) + hours(1))
    await sent(harness, "cross_sell/suggestion")
    [message] = [m for m in await harness.messages() if m.template == "cross_sell/suggestion"]
    text = (message.text or "").replace("\xa0", " ")
    assert "269,00 $US" in text, "the catalog's USD price, in French"
    assert "59,00 €" in text, "no USD price: the product's own"


async def test_something_already_bought_is_not_suggested(harness: Harness) -> None:
    await harness.store.catalog.upsert(CAMERA_SHOP)
    from store.records import EventRecord

    at = datetime(2026, 1, 2, tzinfo=UTC)
    await harness.store.events.append(
        EventRecord(
            message_id="earlier",
            contact_id=harness.contact,
            name="Order Completed",
            properties={"products": [{"product_id": "lens"}]},
            timestamp=at,
            received_at=at,
        )
    )
    await ordered(harness, ("camera", 849.0))
    await sent(harness, "cross_sell/thank_you")
    await harness.skip(days(7) + hours(1))
    await sent(harness, "cross_sell/suggestion")
    html = await html_of(harness, "cross_sell/suggestion")
    assert "Sac photo" in html and "Objectif 50 mm" not in html


async def test_nothing_in_stock_to_suggest_sends_no_suggestion(harness: Harness) -> None:
    await harness.store.catalog.upsert(
        [product("mug", "Mug", related=["spoon"]), product("spoon", "Cuillère", stock=0)]
    )
    await ordered(harness, ("mug", 12.0))
    await sent(harness, "cross_sell/thank_you")
    await harness.skip(days(7) + hours(1))
    res = await result(harness)
    assert res.exit_reason is ExitReason.completed
    assert await harness.sent_templates() == ["cross_sell/thank_you"]
    assert "suggestion not sent: nothing in stock to suggest" in await story(harness)


async def test_a_basic_plan_used_past_the_threshold_gets_the_upgrade(harness: Harness) -> None:
    await harness.store.catalog.upsert(CAMERA_SHOP)
    await ordered(harness, ("plan-basic", 9.0))
    await sent(harness, "cross_sell/thank_you")
    for _ in range(3):
        await harness.event("Feature Used", count=5)
        await harness.skip(days(1))
    assert await harness.sent_templates() == ["cross_sell/thank_you"], "15 of 20 uses"
    await harness.event("Feature Used", count=5)
    res = await result(harness)
    assert res.exit_reason is ExitReason.completed
    assert await harness.sent_templates() == ["cross_sell/thank_you", "cross_sell/upgrade"]
    html = await html_of(harness, "cross_sell/upgrade")
    assert "Premium" in html and "€19.00" in html and "20 times" in html


async def test_a_basic_plan_used_little_gets_no_upgrade_and_no_suggestion(
    harness: Harness,
) -> None:
    await harness.store.catalog.upsert(CAMERA_SHOP)
    await ordered(harness, ("plan-basic", 9.0))
    await sent(harness, "cross_sell/thank_you")
    await harness.event("Feature Used")
    await harness.skip(days(30) + hours(1))
    res = await result(harness)
    assert res.exit_reason is ExitReason.completed
    assert await harness.sent_templates() == ["cross_sell/thank_you"]
    assert "upgrade not offered: usage 1 of 20 within 30 days" in await story(harness)


async def test_the_tiers_come_from_the_catalog(harness: Harness) -> None:
    # A shop whose plans are team < business (no "basic" or "premium"): team used a lot is
    # offered business, the next tier up by price.
    await harness.store.catalog.upsert(
        [
            product("plan-team", "Team", category="saas", plan_tier="team", price=15.0),
            product("plan-business", "Business", category="saas", plan_tier="business", price=40.0),
        ]
    )
    await ordered(harness, ("plan-team", 15.0))
    await sent(harness, "cross_sell/thank_you")
    await harness.event("Feature Used", count=25)
    res = await result(harness)
    assert res.exit_reason is ExitReason.completed
    assert await harness.sent_templates() == ["cross_sell/thank_you", "cross_sell/upgrade"]
    html = await html_of(harness, "cross_sell/upgrade")
    assert "Business" in html and "€40.00" in html
