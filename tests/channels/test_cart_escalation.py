"""Cart escalation branch by branch on the time-skipping server: email → SMS → audience.

Real activities on a SQLite store; SMS goes to the outbox provider, the audience webhook to a
local server that checks its signature.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.audiences import AudienceActivities
from activities.channels.settings import Audience
from activities.policy import MessagingPolicy
from journeys.cart_escalation import CartEscalation
from journeys.welcome import Welcome
from store import Store
from tests.channels.audience_server import SECRET, AudienceRecorded, make_audience_app
from tests.messaging.fake_providers import serve_app
from tests.workflows.conftest import Harness
from worker.registry import Activities
from worker.settings import Settings
from workflows import days, hours
from workflows.models import ExitReason, JourneyResult
from workflows.routing import Router

JOURNEY = "cart_escalation"
# Only what these tests watch: an order would otherwise start cross_sell, whose pending work
# keeps the time-skipping server from skipping time for the next test.
JOURNEYS = (CartEscalation, Welcome)


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, AudienceRecorded]]:
    recorded = AudienceRecorded()
    async with serve_app(make_audience_app(recorded)) as url:
        yield url, recorded


@pytest.fixture
async def cart(
    make_harness: Callable[..., AbstractAsyncContextManager[Harness]],
    time_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    task_queue: str,
    hook: tuple[str, AudienceRecorded],
) -> AsyncIterator[Harness]:
    """The registry's journeys, the audience pointing at the local hook, a contact with a phone."""
    url, _ = hook
    async with httpx.AsyncClient(timeout=5) as client:
        acts = Activities.build(
            store=store, router=Router(time_env.client, JOURNEYS, task_queue), settings=settings
        )
        audiences = {"retargeting": Audience(url=f"{url}/hooks/retargeting", secret=SECRET)}
        acts.audiences = AudienceActivities(
            store, audiences, MessagingPolicy.from_settings(settings), client
        )
        async with make_harness(journeys=JOURNEYS, activities=acts.all()) as h:
            await h.identify()
            await store.contacts.identify(h.contact, {"phone": "+33612345678"}, datetime.now(UTC))
            yield h


async def grant_sms(h: Harness) -> None:
    await h.store.consent.set(
        h.contact, "marketing", subscribed=True, source="form", at=datetime.now(UTC), channel="sms"
    )


async def channels_sent(h: Harness) -> list[str]:
    return [m.channel for m in await h.messages() if m.status == "sent"]


async def until_sent(h: Harness, channels: list[str]) -> None:
    async def check() -> bool:
        return await channels_sent(h) == channels

    await h.until(check, f"messages on {channels}")


async def result(h: Harness) -> JourneyResult:
    await h.until(lambda: h.closed(JOURNEY), "the journey to end")
    return await h.handle(JOURNEY).result()


async def email_sent(h: Harness) -> str:
    await h.event("Payment Info Entered")
    await h.until(lambda: h.running(JOURNEY), "the journey to start")
    await h.skip(hours(1) + hours(0.1))
    await until_sent(h, ["email"])
    [email] = await h.messages()
    return email.message_id


async def test_an_opened_email_stops_the_escalation(
    cart: Harness, hook: tuple[str, AudienceRecorded]
) -> None:
    await grant_sms(cart)
    email = await email_sent(cart)
    await cart.event("Email Opened", email_id=email)
    res = await result(cart)
    assert res.exit_reason is ExitReason.completed
    assert await channels_sent(cart) == ["email"] and hook[1].calls == []


async def test_unopened_email_then_sms_then_a_visit_stops_it(
    cart: Harness, hook: tuple[str, AudienceRecorded]
) -> None:
    await grant_sms(cart)
    await email_sent(cart)
    await cart.skip(hours(23))
    assert await channels_sent(cart) == ["email"], "the SMS came before a day"
    await cart.skip(hours(1.5))
    await until_sent(cart, ["email", "sms"])
    sms = [m for m in await cart.messages() if m.channel == "sms"][0]
    assert sms.to_address == "+33612345678" and sms.text and "STOP" in sms.text
    await cart.event("Product Viewed")
    res = await result(cart)
    assert res.exit_reason is ExitReason.completed and hook[1].calls == []


async def test_no_reaction_adds_to_the_audience_and_an_order_removes_them(
    cart: Harness, hook: tuple[str, AudienceRecorded]
) -> None:
    _, recorded = hook
    await grant_sms(cart)
    await email_sent(cart)
    await cart.skip(days(1) + hours(1))
    await until_sent(cart, ["email", "sms"])
    await cart.skip(days(1) + hours(1))
    await until_sent(cart, ["email", "sms", "audience"])
    assert [body["action"] for body in recorded.accepted] == ["add"]
    await cart.event("Order Completed")
    res = await result(cart)
    assert res.exit_reason is ExitReason.goal
    assert [body["action"] for body in recorded.accepted] == ["add", "remove"]
    assert all(recorded.verified)


async def test_without_sms_consent_the_sms_is_refused_and_the_audience_follows(
    cart: Harness, hook: tuple[str, AudienceRecorded]
) -> None:
    await email_sent(cart)
    await cart.skip(days(1) + hours(1))

    async def refused() -> bool:
        return any(m.channel == "sms" and m.status == "refused" for m in await cart.messages())

    await cart.until(refused, "the SMS refused for want of consent")
    await cart.skip(days(1) + hours(1))
    await until_sent(cart, ["email", "audience"])
    # Two weeks of retargeting, then out of the audience.
    await cart.skip(days(14) + hours(1))
    res = await result(cart)
    assert res.exit_reason is ExitReason.completed
    assert [body["action"] for body in hook[1].accepted] == ["add", "remove"]


async def test_an_sms_stop_ends_the_journey(
    cart: Harness, hook: tuple[str, AudienceRecorded]
) -> None:
    await grant_sms(cart)
    await email_sent(cart)
    await cart.skip(days(1) + hours(1))
    await until_sent(cart, ["email", "sms"])
    await cart.event("Unsubscribed", topic="*", channel="sms", source="sms_keyword")
    res = await result(cart)
    assert res.exit_reason is ExitReason.unsubscribed and hook[1].calls == []


async def test_an_sms_stop_leaves_email_only_journeys_alone(cart: Harness) -> None:
    await cart.event("Signed Up")
    await cart.until(lambda: cart.running("welcome"), "welcome to start")
    await cart.event("Unsubscribed", topic="*", channel="sms")
    await cart.skip(hours(1))
    assert await cart.running("welcome")
