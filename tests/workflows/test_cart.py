"""Cart abandonment, branch by branch, on the time-skipping server with real activities."""

from __future__ import annotations

import uuid
from typing import Any

from store.catalog_models import ProductIn
from tests.workflows.conftest import Harness
from workflows import days, hours, minutes
from workflows.models import Event, ExitReason, JourneyResult

JOURNEY = "cart_abandonment"


def product(pid: str, name: str, **fields: Any) -> ProductIn:
    base: dict[str, Any] = {"id": pid, "name": name, "price": 30.0, "currency": "EUR"}
    return ProductIn.model_validate({**base, **fields})


async def stock(h: Harness, *products: ProductIn) -> None:
    await h.store.catalog.upsert(list(products))


async def added(h: Harness, pid: str, name: str, quantity: int = 1) -> None:
    # Segment's Product Added has a ``name`` property, which Harness.event cannot take.
    properties = {"product_id": pid, "name": name, "price": 30.0, "quantity": quantity}
    await h.router.route(
        h.contact, Event(message_id=uuid.uuid4().hex, name="Product Added", properties=properties)
    )


async def sent(h: Harness, template: str) -> None:
    async def check() -> bool:
        return template in await h.sent_templates()

    await h.until(check, template)


async def handed_to_cross_sell(h: Harness) -> None:
    # The order starts cross-sell; its first send must finish before the test ends, or the
    # time-skipping server stops skipping for the next test.
    await sent(h, "cross_sell/thank_you")


async def html_of(h: Harness, template: str) -> str:
    [message] = [m for m in await h.messages() if m.template == template and m.channel == "email"]
    return message.html or ""


async def result(h: Harness) -> JourneyResult:
    await h.until(lambda: h.closed(JOURNEY), "the cart journey to end")
    return await h.handle(JOURNEY).result()


async def story(h: Harness) -> list[str]:
    return [r.detail for r in (await h.state(JOURNEY)).history]


async def test_reminder_after_an_hour_then_a_discount_a_day_later(harness: Harness) -> None:
    await stock(harness, product("tent", "Tente 2 places", stock=4))
    await added(harness, "tent", "Tente 2 places", quantity=2)
    await harness.until(lambda: harness.running(JOURNEY), "the cart journey")
    await harness.skip(minutes(55))
    assert await harness.sent_templates() == []
    await harness.skip(minutes(10))
    await sent(harness, "cart/reminder")
    html = await html_of(harness, "cart/reminder")
    assert "Tente 2 places" in html and "× 2" in html and "€30.00" in html
    await harness.skip(hours(23))
    assert await harness.sent_templates() == ["cart/reminder"]
    await harness.skip(hours(2))
    # No phone, so no SMS: the discount by email (tests/channels/test_cart_escalation.py has
    # the SMS branches and the retargeting that follows).
    await sent(harness, "cart/discount")
    assert await harness.sent_templates() == ["cart/reminder", "cart/discount"]
    assert "CART10" in await html_of(harness, "cart/discount")


async def test_an_order_within_the_hour_sends_nothing(harness: Harness) -> None:
    await added(harness, "tent", "Tente 2 places")
    await harness.until(lambda: harness.running(JOURNEY), "the cart journey")
    await harness.skip(minutes(20))
    await harness.event("Order Completed", products=[{"product_id": "tent"}])
    res = await result(harness)
    assert res.exit_reason is ExitReason.goal
    await handed_to_cross_sell(harness)
    assert await harness.sent_templates() == ["cross_sell/thank_you"]


async def test_an_order_after_the_reminder_cancels_the_discount(harness: Harness) -> None:
    await stock(harness, product("tent", "Tente 2 places"))
    await added(harness, "tent", "Tente 2 places")
    await harness.skip(hours(1) + minutes(5))
    await sent(harness, "cart/reminder")
    await harness.event("Order Completed", products=[{"product_id": "tent"}])
    res = await result(harness)
    assert res.exit_reason is ExitReason.goal
    await handed_to_cross_sell(harness)
    assert await harness.sent_templates() == ["cart/reminder", "cross_sell/thank_you"]


async def test_each_change_to_the_cart_restarts_the_hour(harness: Harness) -> None:
    await stock(harness, product("tent", "Tente"), product("lamp", "Lampe frontale"))
    await added(harness, "tent", "Tente")
    await harness.until(lambda: harness.running(JOURNEY), "the cart journey")
    await harness.skip(minutes(50))
    await added(harness, "lamp", "Lampe frontale")
    await harness.skip(minutes(30))
    assert await harness.sent_templates() == [], "the hour counts from the last change"
    await harness.skip(minutes(40))
    await sent(harness, "cart/reminder")
    html = await html_of(harness, "cart/reminder")
    assert "Tente" in html and "Lampe frontale" in html


async def test_an_out_of_stock_item_is_replaced_by_its_alternative(harness: Harness) -> None:
    await stock(
        harness,
        product("boots-red", "Bottes rouges", stock=0, alternatives=["boots-black"]),
        product("boots-black", "Bottes noires", stock=7),
    )
    await added(harness, "boots-red", "Bottes rouges")
    await harness.skip(hours(1) + minutes(5))
    await sent(harness, "cart/reminder")
    html = await html_of(harness, "cart/reminder")
    assert "Bottes noires" in html
    assert "In place of Bottes rouges" in html, "the alternative says what it replaces"


async def test_nothing_in_stock_means_no_email_and_the_reason_in_the_story(
    harness: Harness,
) -> None:
    await stock(harness, product("hat", "Chapeau", stock=0))
    await added(harness, "hat", "Chapeau")
    await harness.skip(hours(1) + minutes(5))

    async def recorded() -> bool:
        return any("cart/reminder not sent" in d for d in await story(harness))

    await harness.until(recorded, "the reason in the story")
    assert any("nothing left to offer (hat out of stock" in d for d in await story(harness))
    assert await harness.messages() == []
    # Back in stock before the second touch: checked again at that moment, so it goes out.
    await stock(harness, ProductIn(id="hat", stock=3))
    await harness.skip(days(1))
    await sent(harness, "cart/discount")
    assert await harness.sent_templates() == ["cart/discount"]


async def test_a_cart_emptied_by_removals_sends_nothing(harness: Harness) -> None:
    await added(harness, "tent", "Tente")
    await harness.until(lambda: harness.running(JOURNEY), "the cart journey")
    await harness.event("Product Removed", product_id="tent")
    await harness.skip(days(2))
    res = await result(harness)
    assert res.exit_reason is ExitReason.completed
    assert await harness.messages() == []
    assert any("the cart is empty" in d for d in await story(harness))


async def test_checkout_started_lists_the_whole_cart(harness: Harness) -> None:
    await stock(harness, product("tent", "Tente"), product("stove", "Réchaud"))
    await added(harness, "tent", "Tente")
    await harness.until(lambda: harness.running(JOURNEY), "the cart journey")
    await harness.event(
        "Checkout Started",
        products=[{"product_id": "stove", "name": "Réchaud", "price": 45.0}],
    )
    await harness.skip(hours(1) + minutes(5))
    await sent(harness, "cart/reminder")
    html = await html_of(harness, "cart/reminder")
    assert "Réchaud" in html and "Tente" not in html
