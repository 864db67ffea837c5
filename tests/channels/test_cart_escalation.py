"""Cart abandonment's escalation branch by branch on the time-skipping server: email → SMS or
discount email → retargeting audience.

Real activities on a SQLite store; SMS goes to the outbox provider, the audience webhook to a
local server that checks its signature. ``cart_escalation`` is superseded: nothing enters it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.audiences import AudienceActivities
from activities.channels.settings import Audience
from activities.policy import MessagingPolicy
from journeys.cart import CartAbandonment
from journeys.cart_escalation import CartEscalation
from journeys.welcome import Welcome
from store import Store
from tests.workflows.conftest import Harness
from tests.workflows.test_cart import added, product, stock, story
from worker.registry import Activities
from worker.sandbox_servers import SECRET, AudienceRecorded
from worker.settings import Settings
from workflows import days, hours, minutes
from workflows.models import Event, ExitReason, JourneyResult
from workflows.routing import Router

JOURNEY = "cart_abandonment"
# Only what these tests watch: an order would otherwise start cross_sell, whose pending work
# keeps the time-skipping server from skipping time for the next test.
JOURNEYS = (CartAbandonment, CartEscalation, Welcome)
PHONE = "+33612345678"


@pytest.fixture
async def cart(
    make_harness: Callable[..., AbstractAsyncContextManager[Harness]],
    time_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    task_queue: str,
    hook: tuple[str, AudienceRecorded],
    client: httpx.AsyncClient,
) -> AsyncIterator[Harness]:
    """The journeys, the audience at the local hook, a contact with a phone and a tent in stock."""
    url, _ = hook
    acts = Activities.build(
        store=store, router=Router(time_env.client, JOURNEYS, task_queue), settings=settings
    )
    audiences = {"retargeting": Audience(url=f"{url}/hooks/retargeting", secret=SECRET)}
    acts.audiences = AudienceActivities(
        store, audiences, MessagingPolicy.from_settings(settings), client
    )
    async with make_harness(journeys=JOURNEYS, activities=acts.all()) as h:
        await h.identify()
        await store.contacts.identify(h.contact, {"phone": PHONE}, datetime.now(UTC))
        await stock(h, product("tent", "Tente 2 places", stock=4))
        yield h


async def grant_sms(h: Harness) -> None:
    await h.store.consent.set(
        h.contact, "marketing", subscribed=True, source="form", at=datetime.now(UTC), channel="sms"
    )


async def sent(h: Harness) -> list[str]:
    """What left, in order: ``template.channel``."""
    return [f"{m.template}.{m.channel}" for m in await h.messages() if m.status == "sent"]


async def until_sent(h: Harness, expected: list[str]) -> None:
    async def check() -> bool:
        return await sent(h) == expected

    await h.until(check, f"{expected} sent")


async def result(h: Harness) -> JourneyResult:
    await h.until(lambda: h.closed(JOURNEY), "the journey to end")
    return await h.handle(JOURNEY).result()


REMINDER = ["cart/reminder.email"]
BY_SMS = [*REMINDER, "cart/discount.sms"]
BY_EMAIL = [*REMINDER, "cart/discount.email"]


async def reminded(h: Harness) -> str:
    """A tent left in the cart; the reminder an hour later. Returns its message id."""
    await added(h, "tent", "Tente 2 places")
    await h.until(lambda: h.running(JOURNEY), "the cart journey to start")
    await h.skip(hours(1) + minutes(5))
    await until_sent(h, REMINDER)
    [email] = await h.messages()
    return email.message_id


async def test_an_opened_reminder_gets_the_discount_by_email_never_an_sms(cart: Harness) -> None:
    await grant_sms(cart)
    email = await reminded(cart)
    await cart.event("Email Opened", email_id=email)
    await cart.skip(hours(22))
    assert await sent(cart) == REMINDER, "the discount still waits for the day to pass"
    await cart.skip(hours(3))
    await until_sent(cart, BY_EMAIL)
    assert [m.channel for m in await cart.messages()] == ["email", "email"]


async def test_unopened_with_sms_consent_the_discount_goes_by_sms(
    cart: Harness, hook: tuple[str, AudienceRecorded]
) -> None:
    await grant_sms(cart)
    await reminded(cart)
    await cart.skip(hours(23))
    assert await sent(cart) == REMINDER, "the SMS came before a day"
    await cart.skip(hours(1.5))
    await until_sent(cart, BY_SMS)
    sms = [m for m in await cart.messages() if m.channel == "sms"][0]
    assert sms.to_address == PHONE and sms.text
    assert "CART10" in sms.text and "Tente 2 places" in sms.text and "STOP" in sms.text
    # A product viewed is a reaction: no retargeting.
    await cart.event("Product Viewed", product_id="tent")
    res = await result(cart)
    assert res.exit_reason is ExitReason.completed and hook[1].calls == []
    assert await sent(cart) == BY_SMS


async def test_without_sms_consent_the_discount_goes_by_email(cart: Harness) -> None:
    await reminded(cart)
    await cart.skip(days(1))
    await until_sent(cart, BY_EMAIL)
    [refused] = [m for m in await cart.messages() if m.channel == "sms"]
    assert refused.status == "refused" and refused.reason == "no_consent"
    assert any("the discount goes by email instead" in d for d in await story(cart))


async def test_an_sms_stop_before_the_cart_sends_the_email_and_goes_on(cart: Harness) -> None:
    await grant_sms(cart)
    at = datetime.now(UTC)
    await cart.store.consent.set(
        cart.contact, "*", subscribed=False, source="sms_keyword", at=at, channel="sms"
    )
    await reminded(cart)
    await cart.skip(days(1))
    await until_sent(cart, BY_EMAIL)
    assert await cart.running(JOURNEY), "an old SMS STOP does not end the cart journey"


async def test_no_reaction_adds_to_the_audience_and_an_order_removes_them(
    cart: Harness, hook: tuple[str, AudienceRecorded]
) -> None:
    _, recorded = hook
    await grant_sms(cart)
    await reminded(cart)
    await cart.skip(days(1) + hours(1))
    await until_sent(cart, BY_SMS)
    await cart.skip(hours(22))
    assert recorded.calls == [], "the audience came before a day"
    await cart.skip(hours(3))
    await until_sent(cart, [*BY_SMS, "audience/retargeting.audience"])
    assert [body["action"] for body in recorded.accepted] == ["add"]
    assert set(recorded.accepted[0]["members"][0]) == {"email_sha256", "phone_sha256"}
    await cart.event("Order Completed", products=[{"product_id": "tent"}])
    res = await result(cart)
    assert res.exit_reason is ExitReason.goal
    assert [body["action"] for body in recorded.accepted] == ["add", "remove"]
    assert all(recorded.verified)


async def test_retargeting_lasts_two_weeks_then_they_leave_the_audience(
    cart: Harness, hook: tuple[str, AudienceRecorded]
) -> None:
    await reminded(cart)
    await cart.skip(days(1) + hours(1))
    await until_sent(cart, BY_EMAIL)
    await cart.skip(days(1) + hours(1))
    await until_sent(cart, [*BY_EMAIL, "audience/retargeting.audience"])
    await cart.skip(days(13))
    assert [body["action"] for body in hook[1].accepted] == ["add"]
    await cart.skip(days(1) + hours(1))
    res = await result(cart)
    assert res.exit_reason is ExitReason.completed
    assert [body["action"] for body in hook[1].accepted] == ["add", "remove"]


async def test_out_of_stock_the_sms_offers_the_alternative(
    cart: Harness, hook: tuple[str, AudienceRecorded]
) -> None:
    await grant_sms(cart)
    await stock(
        cart,
        product("boots-red", "Bottes rouges", stock=1, alternatives=["boots-black"]),
        product("boots-black", "Bottes noires", stock=7),
    )
    await added(cart, "boots-red", "Bottes rouges")
    await cart.skip(hours(1) + minutes(5))
    await until_sent(cart, REMINDER)
    await stock(cart, product("boots-red", "Bottes rouges", stock=0, alternatives=["boots-black"]))
    await cart.skip(days(1))
    await until_sent(cart, BY_SMS)
    [sms] = [m for m in await cart.messages() if m.channel == "sms"]
    assert sms.text and "Bottes noires" in sms.text and "Bottes rouges" not in sms.text


async def test_nothing_left_to_offer_sends_no_second_touch_and_no_retargeting(
    cart: Harness, hook: tuple[str, AudienceRecorded]
) -> None:
    await grant_sms(cart)
    await reminded(cart)
    await stock(cart, product("tent", "Tente 2 places", stock=0))
    await cart.skip(days(1) + hours(1))
    res = await result(cart)
    assert res.exit_reason is ExitReason.completed
    assert await sent(cart) == REMINDER and hook[1].calls == []
    assert any("cart/discount not sent: nothing left" in d for d in await story(cart))


async def test_an_sms_stop_ends_the_journey(
    cart: Harness, hook: tuple[str, AudienceRecorded]
) -> None:
    await grant_sms(cart)
    await reminded(cart)
    await cart.skip(days(1) + hours(1))
    await until_sent(cart, BY_SMS)
    await cart.event("Unsubscribed", topic="*", channel="sms", source="sms_keyword")
    res = await result(cart)
    assert res.exit_reason is ExitReason.unsubscribed and hook[1].calls == []


async def test_an_sms_stop_leaves_email_only_journeys_alone(cart: Harness) -> None:
    await cart.event("Signed Up")
    await cart.until(lambda: cart.running("welcome"), "welcome to start")
    await cart.event("Unsubscribed", topic="*", channel="sms")
    await cart.skip(hours(1))
    assert await cart.running("welcome")


async def test_cart_escalation_is_superseded_nothing_enters_it(cart: Harness) -> None:
    event = Event(message_id=uuid.uuid4().hex, name="Payment Info Entered")
    routed = await cart.router.route(cart.contact, event)
    assert routed.started == [] and not await cart.running("cart_escalation")
