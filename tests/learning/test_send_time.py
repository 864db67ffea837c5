"""Send-time optimisation: the estimate, quiet hours, daylight saving, and a journey that waits."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from temporalio.testing import ActivityEnvironment

from activities.policy import MessagingPolicy
from activities.send_time import (
    SendTimeActivities,
    best_moment,
    hour_scores,
    local_hours,
    recency_weights,
)
from activities.send_time_models import BestSendTime
from store import Store
from tests.learning.seed import event
from tests.workflows.conftest import Harness

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
WINDOW = (time(8), time(21), tuple(range(7)))
MakeHarness = Callable[..., AbstractAsyncContextManager[Harness]]


def peak(hour: int, height: float = 10.0) -> np.ndarray:
    scores = np.ones(24)
    scores[hour] = height
    return scores


def test_little_history_follows_the_population_a_lot_follows_the_contact() -> None:
    population = peak(12, 1000)
    one_open = np.zeros(24)
    one_open[20] = 1
    assert int(np.argmax(hour_scores(one_open, population))) == 12
    assert int(np.argmax(hour_scores(one_open * 20, population))) == 20


def test_recent_opens_outweigh_old_habits() -> None:
    at = datetime(2026, 6, 1, tzinfo=UTC)
    old = [at - timedelta(days=120, hours=h) for h in range(6)]  # six, four months ago
    recent = [at - timedelta(days=3), at - timedelta(days=10)]  # two, lately
    old = [m.replace(hour=18) for m in old]
    recent = [m.replace(hour=7) for m in recent]
    moments = old + recent
    counts = local_hours(moments, ZoneInfo("UTC"), recency_weights(moments, at))
    assert int(np.argmax(counts)) == 7


def test_the_best_hour_is_never_in_quiet_hours() -> None:
    at = datetime(2026, 6, 10, 12, tzinfo=UTC)  # 14:00 in Paris
    night_owl = peak(3, 100)
    night_owl[20] = 5  # their best hour the window allows
    moment, hour = best_moment(at, PARIS, night_owl, WINDOW)
    assert hour == 20 and moment == datetime(2026, 6, 10, 18, tzinfo=UTC)
    # Without quiet hours, 3 a.m. it is.
    _, free = best_moment(at, PARIS, night_owl, None)
    assert free == 3


def test_best_time_is_within_24_hours_and_now_when_now_is_best() -> None:
    at = datetime(2026, 6, 10, 7, 20, tzinfo=UTC)  # 09:20 in Paris
    moment, hour = best_moment(at, PARIS, peak(9), WINDOW)
    assert (moment, hour) == (at, 9)
    moment, _ = best_moment(at, PARIS, peak(8), WINDOW)
    assert moment - at < timedelta(hours=24) and moment.astimezone(PARIS).hour == 8


def test_daylight_saving_spring_forward_and_fall_back() -> None:
    # 29 March 2026: Paris jumps from 02:00 to 03:00; 09:00 local is then 07:00 UTC.
    before = datetime(2026, 3, 28, 22, tzinfo=UTC)
    moment, hour = best_moment(before, PARIS, peak(9), WINDOW)
    assert hour == 9 and moment == datetime(2026, 3, 29, 7, tzinfo=UTC)
    # 1 November 2026: New York falls back from 02:00 EDT to 01:00 EST; 09:00 is 14:00 UTC.
    before = datetime(2026, 11, 1, 3, tzinfo=UTC)
    moment, hour = best_moment(before, NEW_YORK, peak(9), WINDOW)
    assert hour == 9 and moment == datetime(2026, 11, 1, 14, tzinfo=UTC)
    # The window's edges move with the clocks too: 07:00 local is quiet on both sides.
    moment, hour = best_moment(before, NEW_YORK, peak(7, 100), WINDOW)
    assert hour != 7 and 8 <= hour < 21


async def test_the_activity_reads_the_contacts_opens_in_their_timezone(store: Store) -> None:
    contact = "tz-owl"
    now = datetime.now(UTC)
    await store.contacts.identify(
        contact, {"email": "o@example.com", "timezone": "Asia/Tokyo"}, now
    )
    for days in range(1, 8):
        # 11:00 UTC is 20:00 in Tokyo.
        moment = (now - timedelta(days=days)).replace(hour=11, minute=5)
        await event(store, contact, "Email Opened", moment, email_id=f"m{days}")
    quiet = SendTimeActivities(store, MessagingPolicy(quiet_hours=True, frequency_caps=[]))
    answer = await ActivityEnvironment().run(
        quiet.best_send_time, BestSendTime(contact_id=contact, at=now)
    )
    assert answer.hour == 20 and answer.personal_events > 5
    assert answer.at.astimezone(ZoneInfo("Asia/Tokyo")).hour == 20
    assert timedelta(0) <= answer.at - now < timedelta(hours=24)


async def test_a_journey_waits_for_the_best_time_then_sends(
    make_harness: MakeHarness, store: Store
) -> None:
    from tests.learning.experiment_journeys import JOURNEYS

    async with make_harness(JOURNEYS) as h:
        await h.identify()
        await store.contacts.identify(
            h.contact, {"timezone": "America/New_York"}, datetime.now(UTC)
        )
        now = await h.env.get_current_time()
        target = (now.astimezone(NEW_YORK) + timedelta(hours=6)).hour
        for days in range(1, 10):
            local = (now.astimezone(NEW_YORK) - timedelta(days=days)).replace(hour=target)
            await event(store, h.contact, "Email Link Clicked", local.astimezone(UTC), email_id="x")
        await h.event("Go t_best")

        async def waiting() -> bool:
            return (await h.state("t_best")).until is not None

        await h.until(waiting, "the wait for the best time")
        state = await h.state("t_best")
        assert state.until is not None and state.until.astimezone(NEW_YORK).hour == target
        assert await h.messages() == []
        await h.skip(timedelta(hours=7))
        await h.until(lambda: h.closed("t_best"), "the send")
        assert await h.sent_templates() == ["welcome/hello"]
