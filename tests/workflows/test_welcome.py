"""The welcome journey, branch by branch, on the time-skipping server with real activities."""

from __future__ import annotations

from tests.workflows.conftest import Harness
from workflows import days, hours
from workflows.models import ExitReason, JourneyResult


async def hello_sent(h: Harness) -> str:
    """Start welcome with a sign-up and return the welcome email's message id."""
    await h.event("Signed Up")

    async def sent() -> bool:
        return "welcome/hello" in await h.sent_templates()

    await h.until(sent, "the welcome email")
    [hello] = [m for m in await h.messages() if m.template == "welcome/hello"]
    return hello.message_id


async def result(h: Harness, journey: str = "welcome") -> JourneyResult:
    await h.until(lambda: h.closed(journey), f"{journey} to end")
    return await h.handle(journey).result()


async def test_no_action_for_30_days_hands_over_to_reactivation(harness: Harness) -> None:
    await hello_sent(harness)
    await harness.skip(days(29))
    assert not await harness.closed()
    await harness.skip(days(1) + hours(1))
    res = await result(harness)
    assert res.exit_reason is ExitReason.handed_over
    assert res.handed_over_to == "reactivation"
    assert [m.template for m in res.sent] == ["welcome/hello"]

    async def reactivation_mailed() -> bool:
        return "reactivation/miss_you" in await harness.sent_templates()

    await harness.until(reactivation_mailed, "the reactivation email")


async def test_open_then_offer_after_3_days_then_reminder_after_5(harness: Harness) -> None:
    hello = await hello_sent(harness)
    await harness.event("Email Opened", email_id=hello)
    await harness.skip(days(2) + hours(23))
    assert await harness.sent_templates() == ["welcome/hello"], "offer came before 3 days"
    await harness.skip(hours(2))

    async def offered() -> bool:
        return "welcome/offer" in await harness.sent_templates()

    await harness.until(offered, "the offer")
    await harness.skip(days(4) + hours(22))
    assert "welcome/offer_reminder" not in await harness.sent_templates()
    await harness.skip(hours(3))
    res = await result(harness)
    assert res.exit_reason is ExitReason.completed
    assert await harness.sent_templates() == [
        "welcome/hello",
        "welcome/offer",
        "welcome/offer_reminder",
    ]
    assert not await harness.running("cross_sell")
    assert not await harness.running("reactivation")


async def test_click_counts_as_engagement(harness: Harness) -> None:
    hello = await hello_sent(harness)
    await harness.event("Email Link Clicked", email_id=hello, url="https://shop.example/new")
    await harness.skip(days(3) + hours(1))

    async def offered() -> bool:
        return "welcome/offer" in await harness.sent_templates()

    await harness.until(offered, "the offer after a click")


async def test_open_of_another_message_does_not_count(harness: Harness) -> None:
    await hello_sent(harness)
    await harness.event("Email Opened", email_id="some-other-message")
    await harness.skip(days(30) + hours(1))
    res = await result(harness)
    assert res.handed_over_to == "reactivation"


async def test_purchase_while_waiting_for_open_hands_over_to_cross_sell(harness: Harness) -> None:
    await hello_sent(harness)
    await harness.event("Order Completed", revenue=42.0)
    res = await result(harness)
    assert res.exit_reason is ExitReason.goal
    assert res.handed_over_to == "cross_sell"
    assert [m.template for m in res.sent] == ["welcome/hello"]

    async def thanked() -> bool:
        return "cross_sell/thank_you" in await harness.sent_templates()

    await harness.until(thanked, "the cross-sell thank-you")


async def test_purchase_during_the_3_day_pause_cancels_the_offer(harness: Harness) -> None:
    hello = await hello_sent(harness)
    await harness.event("Email Opened", email_id=hello)
    await harness.skip(days(1))
    await harness.event("Order Completed", revenue=10.0)
    res = await result(harness)
    assert res.exit_reason is ExitReason.goal
    await harness.skip(days(10))
    assert "welcome/offer" not in await harness.sent_templates()


async def test_purchase_after_the_offer_means_no_reminder(harness: Harness) -> None:
    hello = await hello_sent(harness)
    await harness.event("Email Opened", email_id=hello)
    await harness.skip(days(3) + hours(1))

    async def offered() -> bool:
        return "welcome/offer" in await harness.sent_templates()

    await harness.until(offered, "the offer")
    await harness.skip(days(2))
    await harness.event("Order Completed", revenue=99.0)
    res = await result(harness)
    assert res.exit_reason is ExitReason.goal
    assert res.handed_over_to == "cross_sell"
    await harness.skip(days(10))
    assert "welcome/offer_reminder" not in await harness.sent_templates()


async def test_unsubscribe_while_a_timer_is_pending_ends_the_journey(harness: Harness) -> None:
    hello = await hello_sent(harness)
    await harness.event("Email Opened", email_id=hello)
    await harness.skip(days(1))
    assert (await harness.state()).waiting_for == "time to pass"
    await harness.event("Unsubscribed", topic="marketing")
    res = await result(harness)
    assert res.exit_reason is ExitReason.unsubscribed
    assert res.handed_over_to is None
    await harness.skip(days(40))
    assert await harness.sent_templates() == ["welcome/hello"]
    assert not await harness.running("reactivation")


async def test_unsubscribe_from_another_topic_does_not_end_it(harness: Harness) -> None:
    await hello_sent(harness)
    await harness.event("Unsubscribed", topic="product_updates")
    await harness.skip(hours(1))
    assert not await harness.closed()


async def test_duplicated_events_count_once(harness: Harness) -> None:
    hello = await hello_sent(harness)
    await harness.event("Signed Up", message_id="dup-signup")
    await harness.event("Email Opened", message_id="dup-open", email_id=hello)
    await harness.event("Email Opened", message_id="dup-open", email_id=hello)
    state = await harness.state()
    # The open (twice, counted once) satisfied the wait: the journey sleeps towards the offer.
    # The inbox keeps only unread events: the extra sign-up (same journey, not restarted).
    assert state.waiting_for == "time to pass"
    assert state.inbox_size == 1
    assert state.step == "01-welcome/hello"
    assert [m.template for m in state.sent] == ["welcome/hello"]
