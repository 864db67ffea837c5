"""Send-time optimisation: the estimate, quiet hours, daylight saving, and a journey that waits."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from temporalio.testing import ActivityEnvironment

from activities.habit_model import habit_scores, population_prior
from activities.policy import MessagingPolicy
from activities.send_time import SendTimeActivities, best_moment, contact_scores
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


def reads(*hours: float) -> np.ndarray:
    return np.array([hours], dtype=float)


def test_little_history_follows_the_population_a_lot_follows_the_contact() -> None:
    # Everyone reads between 12:00 and 13:00: 12:00 and 13:00 are equally near.
    population = peak(12, 1000)
    assert int(np.argmax(habit_scores(reads(20.2), population))) in (12, 13)
    assert int(np.argmax(habit_scores(reads(*[20.2] * 8), population))) == 20
    # No history at all: the population's best hour.
    assert int(np.argmax(habit_scores(np.zeros((1, 0)), population))) in (12, 13)


def test_no_population_and_no_history_is_a_flat_prior() -> None:
    prior = population_prior(np.zeros(24))
    assert np.allclose(prior, prior[0]) and abs(prior.sum() - 1) < 1e-9


def test_a_habit_between_two_hours_is_sent_at_the_nearer_one() -> None:
    # Reads around 08:45: 09:00 is nearer than 08:00 (the hour an open is counted in).
    scores = habit_scores(reads(8.7, 8.8, 8.75, 8.6, 8.9), np.ones(24))[0]
    assert int(np.argmax(scores)) == 9


def test_a_changed_habit_is_followed_a_stray_open_is_not() -> None:
    at = datetime(2026, 6, 1, tzinfo=UTC)
    old = [(at - timedelta(days=90 + d)).replace(hour=18) for d in range(8)]
    recent = [(at - timedelta(days=d)).replace(hour=7, minute=10) for d in (2, 5, 9)]
    flat = np.ones(24)
    moved = contact_scores([(m, False) for m in old + recent], ZoneInfo("UTC"), flat)
    assert int(np.argmax(moved)) == 7
    # One recent open at 07:00 after months at 18:00 is noise, not a new habit.
    stray = contact_scores([(m, False) for m in old + recent[:1]], ZoneInfo("UTC"), flat)
    assert int(np.argmax(stray)) == 18


def test_a_click_weighs_more_than_an_open() -> None:
    at = datetime(2026, 6, 1, tzinfo=UTC)
    opens = [((at - timedelta(days=d)).replace(hour=9), False) for d in (1, 3, 5)]
    clicks = [((at - timedelta(days=d)).replace(hour=17), True) for d in (2, 4)]
    scores = contact_scores(opens + clicks, ZoneInfo("UTC"), np.ones(24))
    assert int(np.argmax(scores)) == 17


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
            day = now.astimezone(NEW_YORK) - timedelta(days=days)
            local = day.replace(hour=target, minute=10)
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
