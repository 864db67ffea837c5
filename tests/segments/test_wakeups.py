"""Exact wake-ups for absence: a contact enters when "no open or click for 15 days" comes true,
with no event at all, and a click in between cancels it (time-skipping environment)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.membership import MembershipKeeper
from activities.wakeups import WakeupActivities
from journeys.segments import CATALOG
from store import Store
from store.records import EventRecord
from store.segments.rules import did, did_not, trait
from store.segments.wakeups import EPSILON, WakeupRepo
from tests.segments.journey_fixture import ReengagementProbe
from tests.segments.test_enrollment import CountingRouter
from workflows.models import Event
from workflows.wakeups import SWEEP, SweepInput, SweepResult, WakeupSweep

CLICKED = "Email Link Clicked"


async def click(store: Store, contact_id: str, at: datetime) -> Event:
    record = EventRecord(
        message_id=f"click-{contact_id}-{at.isoformat()}",
        contact_id=contact_id,
        name=CLICKED,
        timestamp=at,
        received_at=at,
    )
    assert await store.events.append(record)
    return Event(message_id=record.message_id, name=CLICKED, timestamp=at)


@contextlib.asynccontextmanager
async def time_env_frozen(env: WorkflowEnvironment) -> AsyncIterator[None]:
    with env.auto_time_skipping_disabled():
        yield


async def sweep(env: WorkflowEnvironment, task_queue: str, run: str) -> SweepResult:
    return await env.client.execute_workflow(
        SWEEP, SweepInput(), id=f"sweep-{run}", task_queue=task_queue, result_type=SweepResult
    )


async def test_absence_enters_one_day_later_and_a_click_cancels(
    time_env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    t0 = await time_env.get_current_time()
    router = CountingRouter(time_env.client, [ReengagementProbe], task_queue)
    keeper = MembershipKeeper(store, CATALOG, [ReengagementProbe], router)
    for contact_id in ("quiet", "clicks-again"):
        await store.contacts.ensure(contact_id, t0 - timedelta(days=90))
        # The last click, 14 days ago: the relay checked the contact then.
        event = await click(store, contact_id, t0 - timedelta(days=14))
        await keeper.after(contact_id, event, t0 - timedelta(days=14))
    wakeups = WakeupRepo(store.engine, CATALOG)
    due = await wakeups.pending("quiet")
    assert due == {"inactive": t0 + timedelta(days=1) + EPSILON}
    assert router.started == []

    # Time moves only by the explicit sleeps: the probe's year-long timer must not carry the
    # clock past the other contact's wake-up while a sweep's result is awaited.
    async with (
        time_env_frozen(time_env),
        Worker(
            time_env.client,
            task_queue=task_queue,
            workflows=[WakeupSweep, ReengagementProbe],
            activities=WakeupActivities(store, CATALOG, [ReengagementProbe], router).all(),
        ),
    ):
        assert (await sweep(time_env, task_queue, "early")).contacts == 0
        # Half a day later one of them clicks again: its wake-up moves 15 days on.
        await time_env.sleep(timedelta(hours=12))
        t1 = await time_env.get_current_time()
        await keeper.after("clicks-again", await click(store, "clicks-again", t1), t1)
        assert (await wakeups.pending("clicks-again"))["inactive"] > t1 + timedelta(days=14)

        await time_env.sleep(timedelta(hours=12, minutes=1))
        done = await sweep(time_env, task_queue, "due")
        assert (done.contacts, done.entered) == (1, 1)
        assert router.started == ["quiet"]
        assert await wakeups.pending("quiet") == {}  # nothing left to wake it for
        # Entered once: the next sweep finds nothing due and starts nothing.
        assert (await sweep(time_env, task_queue, "again")).entered == 0
        assert router.started == ["quiet"]


async def test_next_change_is_exact_for_counts_and_profile_times(store: Store) -> None:
    t0 = datetime.fromisoformat("2026-06-01T00:00:00+00:00")
    await store.contacts.ensure("c", t0 - timedelta(days=3))
    for days_ago in (10, 6, 2):
        await click(store, "c", t0 - timedelta(days=days_ago))
    repo = WakeupRepo(store.engine, CATALOG)
    # "fewer than 2 clicks in 7 days" is false (2 in the window) until the 6-day-old one leaves.
    rule = did_not(CLICKED, days=7).model_copy(update={"op": "<", "value": 2})
    assert await repo.next_change(rule, "c", t0) == t0 + timedelta(days=1) + EPSILON
    # "no click for 7 days" flips only when the newest click ages out.
    assert (
        await repo.next_change(did_not(CLICKED, days=7), "c", t0)
        == t0 + timedelta(days=5) + EPSILON
    )
    # "known for more than 30 days" comes true 30 days after the contact was first seen.
    known = trait("created_at", "before", days=30)
    assert await repo.next_change(known, "c", t0) == t0 + timedelta(days=27) + EPSILON


async def test_wakeups_are_stored_moved_and_cleared_also_when_they_arrive_together(
    db: Store,
) -> None:
    """Sets from concurrent relay lanes (one shared transaction on SQLite) land as if one by
    one: each (segment, contact) keeps its latest moment, and None clears it."""
    repo = WakeupRepo(db.engine, CATALOG)
    t0 = datetime.fromisoformat("2026-06-01T00:00:00+00:00")
    await asyncio.gather(
        *(repo.set("inactive", f"w{n}", t0 + timedelta(days=n)) for n in range(4)),
        repo.set("loyal", "w0", t0),
    )
    assert await repo.pending("w0") == {"inactive": t0, "loyal": t0}
    await asyncio.gather(
        repo.set("inactive", "w0", t0 + timedelta(days=9)),
        repo.set("loyal", "w0", None),
        repo.set("inactive", "w1", None),
    )
    assert await repo.pending("w0") == {"inactive": t0 + timedelta(days=9)}
    assert await repo.pending("w1") == {}
    assert await repo.due(t0 + timedelta(days=3), limit=10) == [
        ("inactive", "w2"),
        ("inactive", "w3"),
    ]


async def test_next_change_of_a_sum_reads_only_the_window_at_each_moment(db: Store) -> None:
    """A windowed sum changes when its oldest event in the window leaves: which event that is
    depends on ``now``, so the same rule asked at two moments (one statement built once)
    gives each its own answer."""
    t0 = datetime.fromisoformat("2026-06-01T00:00:00+00:00")
    await db.contacts.ensure("spender", t0 - timedelta(days=30))
    for days_ago in (10, 3):
        at = t0 - timedelta(days=days_ago)
        record = EventRecord(
            message_id=f"order-{days_ago}",
            contact_id="spender",
            name="Order Completed",
            properties={"total": 40},
            timestamp=at,
            received_at=at,
        )
        assert await db.events.append(record)
    repo = WakeupRepo(db.engine, CATALOG)
    spent = did("Order Completed", days=7).model_copy(
        update={"measure": "sum", "property": "total", "value": 50}
    )
    # Now only the 3-day-old order is in the window: the sum changes when it leaves.
    assert await repo.next_change(spent, "spender", t0) == t0 + timedelta(days=4) + EPSILON
    # Five days earlier both were: the 10-day-old one (then 5 days old) leaves first.
    earlier = t0 - timedelta(days=5)
    assert await repo.next_change(spent, "spender", earlier) == t0 - timedelta(days=3) + EPSILON
