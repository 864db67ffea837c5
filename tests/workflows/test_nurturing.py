"""Nurturing, branch by branch, on the time-skipping server with real activities."""

from __future__ import annotations

from journeys.nurturing import is_offer_click
from tests.workflows.conftest import Harness
from workflows import Event, days, hours
from workflows.models import ExitReason, JourneyResult

OFFER_URL = "https://shop.example/offer?utm_campaign=nurturing&utm_content=offer"


async def sent(h: Harness, template: str) -> str:
    """Wait until ``template`` was sent; its message id."""

    async def there() -> bool:
        return template in await h.sent_templates()

    await h.until(there, template)
    return next(m.message_id for m in await h.messages() if m.template == template)


async def result(h: Harness) -> JourneyResult:
    await h.until(lambda: h.closed("nurturing"), "nurturing to end")
    return await h.handle("nurturing").result()


def test_offer_clicks_are_tagged_links() -> None:
    def click(**props: object) -> Event:
        return Event(message_id="e", name="Email Link Clicked", properties=props)

    assert is_offer_click(click(url=OFFER_URL))
    assert is_offer_click(click(link="offer", url="https://shop.example/"))
    assert not is_offer_click(click(url="https://shop.example/guide?utm_content=education"))
    assert not is_offer_click(Event(message_id="e", name="Email Opened", properties={}))


async def test_an_ignored_lead_gets_every_touch_at_the_slow_pace(harness: Harness) -> None:
    await harness.event("Lead Created")
    await sent(harness, "nurturing/brand")
    # Ignored: 2 days of looking + 4 days later = the next touch on day 6, not before.
    await harness.skip(days(5) + hours(23))
    assert await harness.sent_templates() == ["nurturing/brand"]
    await harness.skip(hours(2))
    await sent(harness, "nurturing/education")
    await harness.skip(days(12) + hours(1))
    await sent(harness, "nurturing/offer")
    await harness.skip(days(4) + hours(1))
    res = await result(harness)
    assert res.exit_reason is ExitReason.completed
    assert await harness.sent_templates() == [
        "nurturing/brand",
        "nurturing/education",
        "nurturing/case_study",
        "nurturing/offer",
        "nurturing/testimonial",
    ]
    [offer] = [m for m in await harness.messages() if m.template == "nurturing/offer"]
    assert "20%" in (offer.html or "") and "NURTURE20" in (offer.html or "")


async def test_an_open_brings_the_next_touch_sooner(harness: Harness) -> None:
    await harness.event("Lead Created")
    brand = await sent(harness, "nurturing/brand")
    await harness.skip(hours(6))
    await harness.event("Email Opened", email_id=brand)
    # Engaged: the next touch a day after the open, not on day 6.
    await harness.skip(hours(23))
    assert await harness.sent_templates() == ["nurturing/brand"]
    await harness.skip(hours(2))
    await sent(harness, "nurturing/education")
    assert not await harness.closed("nurturing")


async def test_the_offer_is_personalised_by_what_they_engaged_with(harness: Harness) -> None:
    await harness.event("Lead Created")
    brand = await sent(harness, "nurturing/brand")
    await harness.skip(days(6) + hours(1))
    education = await sent(harness, "nurturing/education")
    await harness.event("Email Opened", email_id=education)
    await harness.skip(days(1) + hours(1))
    await sent(harness, "nurturing/case_study")
    await harness.skip(days(6) + hours(1))
    await sent(harness, "nurturing/offer")
    [offer] = [m for m in await harness.messages() if m.template == "nurturing/offer"]
    # They read the guide (education), so the offer leads with the guide's starter kit.
    assert "guide" in (offer.html or "")
    assert brand != education


async def test_a_click_on_the_offer_link_skips_to_the_offer(harness: Harness) -> None:
    await harness.event("Lead Created")
    brand = await sent(harness, "nurturing/brand")
    await harness.event("Email Link Clicked", email_id=brand, url=OFFER_URL)
    await sent(harness, "nurturing/offer")
    assert await harness.sent_templates() == ["nurturing/brand", "nurturing/offer"]
    [offer] = [m for m in await harness.messages() if m.template == "nurturing/offer"]
    assert "repairable bestsellers" in (offer.html or "")  # engaged with the brand touch
    await harness.skip(days(4) + hours(1))
    await sent(harness, "nurturing/testimonial")
    res = await result(harness)
    assert "nurturing/case_study" not in [m.template for m in res.sent]


async def test_an_offer_click_after_an_open_also_skips(harness: Harness) -> None:
    await harness.event("Lead Created")
    brand = await sent(harness, "nurturing/brand")
    await harness.event("Email Opened", email_id=brand)
    await harness.skip(hours(3))
    await harness.event("Email Link Clicked", email_id=brand, url=OFFER_URL)
    await sent(harness, "nurturing/offer")
    assert "nurturing/education" not in await harness.sent_templates()


async def test_a_purchase_ends_it(harness: Harness) -> None:
    await harness.event("Lead Created")
    await sent(harness, "nurturing/brand")
    await harness.skip(days(1))
    await harness.event("Order Completed", revenue=30.0)
    res = await result(harness)
    assert res.exit_reason is ExitReason.goal
    await harness.skip(days(20))
    # The order also starts cross-sell (its own journey): nurturing itself sends no more.
    nurturing = [t for t in await harness.sent_templates() if t.startswith("nurturing/")]
    assert nurturing == ["nurturing/brand"]
