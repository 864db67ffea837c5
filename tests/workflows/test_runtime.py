"""The runtime's rules: exits, re-entry, de-duplication, early events, continue-as-new,
template errors, consent at send time, and how much history a journey costs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError

from activities.models import SEND_MESSAGE, Delivery, SendMessage
from activities.providers import ProviderError
from activities.rendering import Renderer, make_environment
from journeys.registry import ALL
from store import Store
from store.records import MessageRecord
from tests.workflows.conftest import Harness
from tests.workflows.sample_journeys import SAMPLES
from worker.registry import Activities
from worker.settings import Settings
from workflows import days, hours
from workflows.models import ExitReason, JourneyResult


async def finished(h: Harness, journey: str) -> JourneyResult:
    await h.until(lambda: h.closed(journey), f"{journey} to end")
    return await h.handle(journey).result()


async def test_goal_cancels_a_pending_timer(make_harness) -> None:  # type: ignore[no-untyped-def]
    async with make_harness(SAMPLES) as h:
        await h.identify()
        await h.event("Go t_sleeper")
        await h.until(lambda: _sent(h, "welcome/hello"), "the first mail")
        await h.skip(days(2))
        await h.event("Stop")
        res = await finished(h, "t_sleeper")
        assert res.exit_reason is ExitReason.goal
        assert [m.template for m in res.sent] == ["welcome/hello"]
        history = await h.handle("t_sleeper").fetch_history()
        kinds = [e.event_type for e in history.events]
        assert EventType.EVENT_TYPE_TIMER_CANCELED in kinds


async def test_reentry_never_refuses_a_second_stay(make_harness) -> None:  # type: ignore[no-untyped-def]
    async with make_harness(SAMPLES) as h:
        await h.identify()
        await h.event("Go t_sleeper")
        await h.until(lambda: _sent(h, "welcome/hello"), "the first mail")
        await h.event("Stop")
        await finished(h, "t_sleeper")
        routed = await h.router.route(h.contact, _event("Go t_sleeper"))
        assert "t_sleeper" in routed.skipped
        assert await h.closed("t_sleeper")
        assert await h.sent_templates() == ["welcome/hello"]


async def test_reentry_after_exit_starts_a_new_stay_with_new_mails(make_harness) -> None:  # type: ignore[no-untyped-def]
    async with make_harness(SAMPLES) as h:
        await h.identify()
        await h.event("Go t_again")
        first = await finished(h, "t_again")
        await h.event("Go t_again")

        async def two_mails() -> bool:
            return (await h.sent_templates()).count("welcome/hello") == 2

        await h.until(two_mails, "a second stay's mail")
        second = await finished(h, "t_again")
        assert first.sent[0].message_id != second.sent[0].message_id


async def test_entry_event_for_a_running_journey_does_not_restart_it(harness: Harness) -> None:
    await harness.event("Signed Up")
    await harness.until(lambda: _sent(harness, "welcome/hello"), "the welcome email")
    routed = await harness.router.route(harness.contact, _event("Signed Up"))
    assert routed.signalled == ["welcome"] and routed.started == []  # the running stay hears it
    await harness.skip(hours(1))
    assert await harness.sent_templates() == ["welcome/hello"]


async def test_event_for_no_running_journey_is_skipped(harness: Harness) -> None:
    routed = await harness.router.route(harness.contact, _event("Email Opened"))
    assert routed.signalled == []
    assert sorted(routed.skipped) == sorted(j.spec.name for j in ALL)


async def test_an_open_during_the_sleep_satisfies_the_wait_after_it(make_harness) -> None:  # type: ignore[no-untyped-def]
    async with make_harness(SAMPLES) as h:
        await h.identify()
        await h.event("Go t_early")
        await h.until(lambda: _sent(h, "welcome/hello"), "the first mail")
        [hello] = await h.messages()
        await h.event("Email Opened", email_id=hello.message_id)
        await h.skip(days(1) + hours(2))
        res = await finished(h, "t_early")
        assert [m.template for m in res.sent] == ["welcome/hello", "welcome/offer"]


async def test_welcome_sees_an_open_that_beat_the_send_activity(
    make_harness,
    store: Store,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    """The open arrives while the provider call is still in flight, before wait_for began."""
    release = asyncio.Event()
    holder: dict[str, Activities] = {}

    @activity.defn(name=SEND_MESSAGE)
    async def slow_send(request: SendMessage) -> Delivery:
        # The message exists (and has an id to open) while the provider call hangs.
        await holder["real"].send.prepare_message(request)
        await release.wait()
        return await holder["real"].send.send_message(request)

    async with make_harness(ALL, activities=[]) as probe:
        router = probe.router
    real = Activities.build(store=store, router=router, settings=settings)
    holder["real"] = real
    acts = [slow_send, real.handover.start_journey, real.experiments.assign_arm]
    async with make_harness(ALL, activities=acts) as h:
        await h.identify()
        await h.event("Signed Up")

        async def prepared() -> bool:
            return len(await h.messages()) == 1

        await h.until(prepared, "the welcome email to be prepared")
        [hello] = await h.messages()
        await h.event("Email Opened", email_id=hello.message_id)
        release.set()
        await h.until(lambda: _sent(h, "welcome/hello"), "the welcome email")
        await h.skip(days(3) + hours(1))
        await h.until(lambda: _sent(h, "welcome/offer"), "the offer")


async def test_continue_as_new_carries_the_inbox(make_harness) -> None:  # type: ignore[no-untyped-def]
    async with make_harness(SAMPLES) as h:
        await h.event("Go t_looper")
        for n in range(4):
            await h.event("Ping", message_id=f"ping-{n}")
        res = await finished(h, "t_looper")
        assert res.exit_reason is ExitReason.completed
        desc = await h.handle("t_looper").describe()
        assert desc.run_id != desc.raw_description.workflow_execution_info.first_run_id


async def test_an_undefined_variable_fails_the_journey_naming_template_and_variable(
    make_harness,
    store: Store,
    settings: Settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "coupon.subject.j2").write_text("Your coupon")
    (tmp_path / "broken" / "coupon.html.j2").write_text("<p>Use {{ coupon_code }}</p>")
    async with make_harness(SAMPLES, activities=[]) as probe:
        router = probe.router
    acts = Activities.build(
        store=store, router=router, settings=settings, renderer=Renderer(make_environment(tmp_path))
    ).all()
    async with make_harness(SAMPLES, activities=acts) as h:
        await h.identify()
        await h.event("Go t_broken")
        await h.until(lambda: h.closed("t_broken"), "the journey to fail")
        with pytest.raises(WorkflowFailureError) as failure:
            await h.handle("t_broken").result()
        chain = []
        error: BaseException | None = failure.value
        while error is not None:
            chain.append(str(error))
            error = error.__cause__
        text = " | ".join(chain)
        assert "template broken/coupon" in text and "'coupon_code' is undefined" in text
        assert await h.sent_templates() == []


async def test_a_withdrawn_contact_is_not_mailed_and_leaves(harness: Harness) -> None:
    await harness.store.consent.set(
        harness.contact, "*", subscribed=False, source="api", at=datetime.now(UTC)
    )
    await harness.event("Signed Up")
    await harness.until(lambda: harness.closed("welcome"), "welcome to end")
    res = await harness.handle("welcome").result()
    assert res.exit_reason is ExitReason.unsubscribed
    [message] = await harness.messages()
    assert message.status == "refused" and message.reason == "unsubscribed"
    assert await harness.sent_templates() == []


async def test_a_full_welcome_run_costs_few_history_events(harness: Harness) -> None:
    """Open, offer, no purchase, reminder: three sends, two waits, one sleep.

    Per send: three activity events (one activity does the whole send, patch ``send-once``);
    per wait or sleep: a timer (started + fired); each signal one event; every wake-up one
    workflow task (3 events); once per run the patch's marker and version upsert. No
    JourneyStep upsert on a send that went out. At entry, one local activity assigns the
    holdout and the subject-line experiment, behind a patch of its own: two more markers.
    """
    await harness.event("Signed Up")
    await harness.until(lambda: _sent(harness, "welcome/hello"), "the welcome email")
    [hello] = await harness.messages()
    await harness.event("Email Opened", email_id=hello.message_id)
    await harness.skip(days(3) + hours(1))
    await harness.until(lambda: _sent(harness, "welcome/offer"), "the offer")
    await harness.skip(days(5) + hours(1))
    res = await finished(harness, "welcome")
    assert res.exit_reason is ExitReason.completed
    history = await harness.handle("welcome").fetch_history()
    kinds = [e.event_type for e in history.events]
    # Two patches, once each, and the assignment's local activity.
    assert kinds.count(EventType.EVENT_TYPE_MARKER_RECORDED) == 3
    assert kinds.count(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES) <= 2
    assert kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == 3
    assert len(history.events) <= 48, len(history.events)


async def test_sleep_until_wakes_at_the_moment(make_harness) -> None:  # type: ignore[no-untyped-def]
    async with make_harness(SAMPLES) as h:
        await h.identify()
        moment = await h.env.get_current_time() + days(2)
        await h.event("Go t_until", at=moment.isoformat())
        await h.skip(days(1) + hours(23))
        assert await h.sent_templates() == []
        assert (await h.state("t_until")).until == moment
        await h.skip(hours(2))
        res = await finished(h, "t_until")
        assert [m.template for m in res.sent] == ["welcome/hello"]


async def test_personal_properties_never_reach_the_history(harness: Harness) -> None:
    """Segment's Signed Up carries email and names; the store keeps them, histories do not."""
    await harness.event(
        "Signed Up", email="grace.hopper@example.com", first_name="Grace", plan="pro"
    )
    await harness.until(lambda: _sent(harness, "welcome/hello"), "the welcome email")
    history = await harness.handle("welcome").fetch_history()
    # Payloads are JSON inside the protobuf events: search the raw bytes.
    raw = b"".join(event.SerializeToString() for event in history.events)
    assert b"grace.hopper@example.com" not in raw and b"Grace" not in raw
    assert b'"plan":"pro"' in raw  # other properties do reach the journey


class RefusingProvider:
    """A provider that rejects every message for good, as a 4xx validation error does."""

    name = "refusing"
    idempotent = False
    resend_unknown = False

    async def send(self, message: MessageRecord, commit: Any = None) -> str:
        raise ProviderError("422 invalid recipient", retryable=False)


async def test_a_message_the_provider_refuses_fails_that_send_not_the_journey(
    make_harness,
    store: Store,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    async with make_harness(ALL, activities=[]) as probe:
        router = probe.router
    acts = Activities.build(
        store=store, router=router, settings=settings, provider=RefusingProvider()
    ).all()
    async with make_harness(ALL, activities=acts) as h:
        await h.identify()
        await h.event("Signed Up")
        res = await finished(h, "welcome")
        assert res.exit_reason is ExitReason.completed
        assert [(m.template, m.status) for m in res.sent] == [("welcome/hello", "failed")]
        [message] = await h.messages()
        assert message.status == "failed"


async def _sent(h: Harness, template: str) -> bool:
    return template in await h.sent_templates()


def _event(name: str):  # type: ignore[no-untyped-def]
    import uuid

    from workflows.models import Event

    return Event(message_id=uuid.uuid4().hex, name=name)
