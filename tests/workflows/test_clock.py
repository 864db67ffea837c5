"""The dev time scale (SOJOURN_DEV_TIME_SCALE): durations shrink, moments and scale 1 do not."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import Schedule, WorkflowHandle

from activities.policy import CapRule, MessagingPolicy
from journeys.registry import ALL
from tests.workflows.conftest import Harness
from tests.workflows.sample_journeys import SAMPLES, Paced
from worker.settings import Settings
from workflows import days, hours
from workflows.clock import real
from workflows.dates import DateEnrollmentInput, date_schedule
from workflows.enrollment import EnrollmentInput, enrollment_schedule
from workflows.models import Event, JourneyInput
from workflows.routing import Router
from workflows.wakeups import SweepInput, sweep_schedule

SCALE = 3600.0  # an hour a second


async def timers(handle: WorkflowHandle) -> list[timedelta]:
    """Every timer the run started, in order (its whole chain of runs is not followed)."""
    history = await handle.fetch_history()
    return [
        e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]


async def run_paced(
    h: Harness, scale: float, later: timedelta
) -> tuple[list[timedelta], list[timedelta]]:
    """Start ``t_paced`` through a router at ``scale`` with its moment ``later`` than entry;
    the timers of it and of its hand-over."""
    router = Router(h.client, [Paced, *SAMPLES], h.router.task_queue, time_scale=scale)
    entered = await h.env.get_current_time()
    moment = entered + later
    go = Event(
        message_id=uuid.uuid4().hex, name="Go t_paced", properties={"at": moment.isoformat()}
    )
    await router.route(h.contact, go)
    await h.skip(later + timedelta(minutes=1))
    await h.until(lambda: h.closed("t_paced"), "t_paced to end")
    sleeper = h.handle("t_sleeper")
    await h.until(lambda: _has_timer(sleeper), "t_sleeper's sleep")
    paced = await timers(h.handle("t_paced"))
    # The third timer is the moment's, on the real clock whatever the scale.
    assert len(paced) == 3
    assert abs(entered + sum(paced, timedelta()) - moment) < timedelta(seconds=5)
    return paced[:2], await timers(sleeper)


async def _has_timer(handle: WorkflowHandle) -> bool:
    return bool(await timers(handle))


async def test_a_scaled_journey_sleeps_and_waits_scale_times_shorter(make_harness) -> None:  # type: ignore[no-untyped-def]
    async with make_harness([Paced, *SAMPLES]) as h:
        await h.identify()
        paced, sleeper = await run_paced(h, SCALE, later=timedelta(minutes=1))
        assert paced == [timedelta(seconds=24), timedelta(seconds=2)]
        # The hand-over went at the pace of the journey that handed over, not the router's
        # (the harness's router, which runs the activity, is at scale 1).
        assert sleeper == [timedelta(days=10) / SCALE]


async def test_scale_one_issues_the_timers_as_written(make_harness) -> None:  # type: ignore[no-untyped-def]
    async with make_harness([Paced, *SAMPLES]) as h:
        await h.identify()
        paced, sleeper = await run_paced(h, 1.0, later=days(3))
        assert paced == [days(1), hours(2)]
        assert sleeper == [days(10)]


async def test_continue_as_new_keeps_the_scale(make_harness) -> None:  # type: ignore[no-untyped-def]
    async with make_harness(SAMPLES) as h:
        router = Router(h.client, SAMPLES, h.router.task_queue, time_scale=SCALE)
        for name in ("Go t_looper", "Ping", "Ping"):
            await router.route(h.contact, Event(message_id=uuid.uuid4().hex, name=name))
        # Two pings: the looper continued as new; the new run waits 30 days, scaled.
        handle = h.handle("t_looper")
        await h.until(lambda: _continued_and_waiting(handle), "the continued run's wait")
        assert await timers(handle) == [days(30) / SCALE]


async def _continued_and_waiting(handle: WorkflowHandle) -> bool:
    """The latest run is a continued one and has started its timer (no query: a run may be
    ending while asked)."""
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    return bool(started.continued_execution_run_id) and bool(await timers(handle))


def test_real_time_of_a_duration() -> None:
    assert real(days(1), 1) == days(1)
    assert real(days(1), 86400) == timedelta(seconds=1)
    assert real(timedelta(0), 60) == timedelta(0)
    assert real(-hours(1), 60) == -hours(1)


def test_old_inputs_run_at_scale_one() -> None:
    assert JourneyInput.model_validate({"contact_id": "c"}).time_scale == 1.0
    assert EnrollmentInput(journey="j", segment="s").time_scale is None


def _args(schedule: Schedule) -> object:
    action = schedule.action
    return action.args[0]  # type: ignore[attr-defined]


def test_schedules_carry_the_scale_they_were_set_up_with() -> None:
    reengage = next(j for j in ALL if j.spec.segment is not None)
    birthday = next(j for j in ALL if getattr(j, "date_entry", None) is not None)
    enrol = _args(enrollment_schedule(reengage, "q", time_scale=SCALE))
    dates = _args(date_schedule(birthday, "q", time_scale=SCALE))
    sweep = _args(sweep_schedule("q", time_scale=SCALE))
    assert isinstance(enrol, EnrollmentInput) and enrol.time_scale == SCALE
    assert isinstance(dates, DateEnrollmentInput) and dates.time_scale == SCALE
    assert isinstance(sweep, SweepInput) and sweep.time_scale == SCALE


def test_caps_shrink_with_the_scale() -> None:
    settings = Settings(dev_time_scale=24.0)
    policy = MessagingPolicy.from_settings(settings)
    assert policy.frequency_caps == [CapRule(count=1, hours=1), CapRule(count=3, hours=7)]
    assert policy.channel_caps["sms"][0] == CapRule(count=1, hours=1)
    assert MessagingPolicy.from_settings(Settings()).frequency_caps == Settings().frequency_caps
