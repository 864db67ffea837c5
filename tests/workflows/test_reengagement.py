"""Re-engagement (the ``reactivation`` journey), branch by branch, on the time-skipping server."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.hygiene_models import SUNSET_CONTACT, SunsetContact, SunsetDone
from journeys.registry import ALL
from store import Store
from tests.workflows.conftest import Harness
from worker.registry import Activities
from worker.settings import Settings
from workflows import days, hours
from workflows.models import Event, ExitReason, JourneyResult
from workflows.routing import Router

SEQUENCE = [
    "reactivation/miss_you",
    "reactivation/offer",
    "reactivation/survey",
    "reactivation/last_chance",
]


async def sent(h: Harness, template: str) -> str:
    """Wait until ``template`` was sent; its message id."""

    async def there() -> bool:
        return template in await h.sent_templates()

    await h.until(there, template)
    return next(m.message_id for m in await h.messages() if m.template == template)


async def result(h: Harness) -> JourneyResult:
    await h.until(lambda: h.closed("reactivation"), "reactivation to end")
    return await h.handle("reactivation").result()


async def enter(h: Harness) -> str:
    """Enter the journey as its segment schedule does; the first email's id."""
    await h.router.start("reactivation", h.contact)
    return await sent(h, "reactivation/miss_you")


async def sunset_rows(h: Harness) -> list[str]:
    return [e.status for e in await h.store.consent.history(h.contact) if e.source == "sunset"]


async def test_no_reaction_at_all_sunsets_the_contact(harness: Harness) -> None:
    await enter(harness)
    await harness.skip(days(3) + hours(23))
    assert await harness.sent_templates() == SEQUENCE[:1]
    await harness.skip(days(8) + hours(2))
    await sent(harness, "reactivation/survey")
    await harness.skip(days(5) + hours(1))
    await sent(harness, "reactivation/last_chance")
    [last] = [m for m in await harness.messages() if m.template == "reactivation/last_chance"]
    assert "30%" in (last.html or "") and "strongest offer" in (last.html or "")
    await harness.skip(days(5) + hours(1))
    res = await result(harness)
    assert res.exit_reason is ExitReason.completed
    assert [m.template for m in res.sent] == SEQUENCE
    assert await sunset_rows(harness) == ["withdrawn"]
    # Marketing stops: the gates refuse it, and the other journeys hear an Unsubscribed.
    assert not await harness.store.consent.allowed(harness.contact, "marketing")
    unrouted = [e.name for e in await harness.store.events.unrouted(100)]
    assert "Unsubscribed" in unrouted
    state = await harness.state("reactivation")
    assert any(r.detail == "sunset" for r in state.history)


async def _no_reaction(h: Harness) -> JourneyResult:
    """Enter and react to nothing: the four emails, then the sunset."""
    await enter(h)
    await h.skip(days(12) + hours(1))
    await sent(h, "reactivation/survey")
    await h.skip(days(5) + hours(1))
    await sent(h, "reactivation/last_chance")
    await h.skip(days(5) + hours(1))
    return await result(h)


async def test_its_own_sunset_relayed_back_at_once_still_completes(
    make_harness: Callable[..., AbstractAsyncContextManager[Harness]],
    time_env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    task_queue: str,
) -> None:
    """A relay quicker than the journey: the sunset's own ``Unsubscribed`` reaches it before
    the activity's result does. It is the last step's echo, not an unsubscribe."""
    router = Router(time_env.client, ALL, task_queue)
    real = Activities.build(store=store, router=router, settings=settings)

    @activity.defn(name=SUNSET_CONTACT)
    async def sunset_then_relay(request: SunsetContact) -> SunsetDone:
        done = await real.hygiene.sunset_contact(request)
        echoes = await store.events.pending_for(request.contact_id)
        assert [e.name for e in echoes if e.name == "Unsubscribed"], "the sunset emits one"
        for e in echoes:
            await router.route(
                e.contact_id,
                Event(message_id=e.message_id, name=e.name, properties=e.properties),
            )
        return done

    activities = [a for a in real.all() if a != real.hygiene.sunset_contact]
    async with make_harness(activities=[*activities, sunset_then_relay]) as h:
        await h.identify()
        res = await _no_reaction(h)
        assert res.exit_reason is ExitReason.completed
        assert [m.template for m in res.sent] == SEQUENCE
        assert await sunset_rows(h) == ["withdrawn"]


async def test_an_open_wins_them_back(harness: Harness) -> None:
    await enter(harness)
    await harness.skip(days(5))
    offer = await sent(harness, "reactivation/offer")
    await harness.event("Email Opened", email_id=offer)
    res = await result(harness)
    assert res.exit_reason is ExitReason.goal
    assert [m.template for m in res.sent] == SEQUENCE[:2]
    assert await sunset_rows(harness) == []


async def test_an_open_of_any_email_counts(harness: Harness) -> None:
    await enter(harness)
    await harness.event("Email Opened", email_id="some-newsletter")
    res = await result(harness)
    assert res.exit_reason is ExitReason.goal


async def test_a_click_or_an_order_wins_them_back(harness: Harness) -> None:
    hello = await enter(harness)
    await harness.event("Email Link Clicked", email_id=hello, url="https://shop.example/")
    assert (await result(harness)).exit_reason is ExitReason.goal


async def test_a_survey_answer_shapes_the_last_attempt_and_spares_the_sunset(
    harness: Harness,
) -> None:
    await enter(harness)
    await harness.skip(days(8) + hours(1))
    survey = await sent(harness, "reactivation/survey")
    [mail] = [m for m in await harness.messages() if m.template == "reactivation/survey"]
    assert "/s/" in (mail.html or "") and "/too_expensive" in (mail.html or "")
    # Opening the survey itself is not winning back: they may still answer.
    await harness.event("Email Opened", email_id=survey)
    await harness.skip(hours(2))
    await harness.event("Survey Answered", email_id=survey, answer="too_many_emails")
    await sent(harness, "reactivation/last_chance")
    [last] = [m for m in await harness.messages() if m.template == "reactivation/last_chance"]
    assert "at most once a month" in (last.html or "")
    await harness.skip(days(5) + hours(1))
    res = await result(harness)
    assert res.exit_reason is ExitReason.completed
    assert await sunset_rows(harness) == []
    assert await harness.store.consent.allowed(harness.contact, "marketing")


async def test_only_opening_the_survey_is_a_reaction_too(harness: Harness) -> None:
    await enter(harness)
    await harness.skip(days(8) + hours(1))
    survey = await sent(harness, "reactivation/survey")
    await harness.event("Email Opened", email_id=survey)
    await harness.skip(days(10) + hours(2))
    res = await result(harness)
    assert res.exit_reason is ExitReason.completed
    assert [m.template for m in res.sent] == SEQUENCE
    assert await sunset_rows(harness) == []
