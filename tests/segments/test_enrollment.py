"""Segment enrollment: the right contacts enter exactly once, even when the run repeats."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from temporalio.client import ScheduleActionStartWorkflow, ScheduleIntervalSpec
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.segments import SegmentActivities
from journeys.segments import CATALOG
from store import Store
from store.records import EventRecord
from tests.runs import run_histories, size
from tests.segments.helpers import person
from tests.segments.journey_fixture import WaitingJourney
from workflows import Journey
from workflows.enrollment import (
    ENROLLMENT,
    EnrollmentInput,
    EnrollmentProgress,
    SegmentEnrollment,
    enrollment_schedule,
    schedule_id,
)
from workflows.routing import Router
from workflows.search import DEV_KEYS


class CountingRouter(Router):
    """The real router, counting the journeys it started per contact."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.started: list[str] = []
        self.routed: list[tuple[str, str]] = []

    async def start(
        self, name: str, contact_id: str, time_scale: float | None = None
    ) -> tuple[str, bool]:
        wid, ok = await super().start(name, contact_id, time_scale)
        if ok:
            self.started.append(contact_id)
        return wid, ok

    async def route(self, contact_id, event):  # type: ignore[no-untyped-def]
        self.routed.append((contact_id, event.name))
        return await super().route(contact_id, event)


async def test_enrolls_members_exactly_once(
    time_env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    # no_click_15d, evaluated at the workflow's now (the test server's clock).
    for c in ("a1", "a2", "a3", "clicker"):
        await person(store, c)
    now = await time_env.get_current_time()
    await did_at(store, "clicker", now - timedelta(days=1))

    router = CountingRouter(time_env.client, [WaitingJourney], task_queue)
    activities = SegmentActivities(store, CATALOG, router)
    run = EnrollmentInput(
        journey="test_segment_journey",
        segment="no_click_15d",
        batch_size=2,
        concurrency=2,
        exit_on_leave=True,
    )
    # The rule is relative to now: no skipping ahead to some other test's timer mid-run.
    with time_env.auto_time_skipping_disabled():
        await run_three_times(time_env, store, router, activities, run, task_queue)


async def run_three_times(
    time_env: WorkflowEnvironment,
    store: Store,
    router: CountingRouter,
    activities: SegmentActivities,
    run: EnrollmentInput,
    task_queue: str,
) -> None:
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=[SegmentEnrollment, WaitingJourney],
        activities=activities.all(),
    ):
        first = await time_env.client.execute_workflow(
            ENROLLMENT,
            run,
            id=f"enroll-1-{task_queue}",
            task_queue=task_queue,
            result_type=EnrollmentProgress,
        )
        assert (first.started, first.refused, first.batches) == (3, 0, 2)
        assert sorted(router.started) == ["a1", "a2", "a3"]
        for c in ("a1", "a2", "a3"):
            desc = await time_env.client.get_workflow_handle(
                DEV_KEYS.workflow_id("test_segment_journey", c)
            ).describe()
            assert desc.workflow_type == "test_segment_journey"

        second = await time_env.client.execute_workflow(
            ENROLLMENT,
            run,
            id=f"enroll-2-{task_queue}",
            task_queue=task_queue,
            result_type=EnrollmentProgress,
        )
        assert (second.started, second.refused, second.batches) == (0, 0, 0)
        assert sorted(router.started) == ["a1", "a2", "a3"]

        # a1 clicks: it leaves the segment, its journey hears about it, a later run skips it.
        await did_at(store, "a1", await time_env.get_current_time())
        third = await time_env.client.execute_workflow(
            ENROLLMENT,
            run,
            id=f"enroll-3-{task_queue}",
            task_queue=task_queue,
            result_type=EnrollmentProgress,
        )
        assert (third.started, third.left) == (0, 1)
        assert router.routed == [("a1", "Segment Left")]


async def test_enrollment_history_does_not_grow_with_the_base(
    time_env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    """A base three times larger makes more runs, not a longer one; no id is in a history."""
    router = CountingRouter(time_env.client, [WaitingJourney], task_queue)
    activities = SegmentActivities(store, CATALOG, router)
    run = EnrollmentInput(
        journey="test_segment_journey",
        segment="no_click_15d",
        batch_size=2,
        concurrency=2,
        history_events=40,
        refresh_scores=False,
    )
    measured = {}
    with time_env.auto_time_skipping_disabled():
        async with Worker(
            time_env.client,
            task_queue=task_queue,
            workflows=[SegmentEnrollment, WaitingJourney],
            activities=activities.all(),
        ):
            for base, first in ((24, 0), (72, 24)):
                for n in range(first, first + base):
                    await person(store, f"member-{n:04d}")
                wid = f"enroll-{base}-{task_queue}"
                done = await time_env.client.execute_workflow(
                    ENROLLMENT, run, id=wid, task_queue=task_queue, result_type=EnrollmentProgress
                )
                assert (done.started, done.batches) == (base, base // 2)
                histories = await run_histories(time_env.client, wid)
                raw = b"".join(e.SerializeToString() for h in histories for e in h.events)
                # Only the cursors (a page's last id) reach the history, never the pages.
                seen = set(re.findall(rb"member-\d{4}", raw))
                assert len(seen) <= done.batches, sorted(seen)
                measured[base] = (len(histories), max(size(h) for h in histories))
    (small_runs, small_size), (big_runs, big_size) = measured[24], measured[72]
    assert big_runs > small_runs
    # Counts get a digit longer, nothing else grows.
    assert big_size <= small_size * 1.05, measured


async def did_at(store: Store, contact_id: str, at: datetime) -> None:
    await store.events.append(
        EventRecord(
            message_id=f"click-{contact_id}-{at.isoformat()}",
            contact_id=contact_id,
            name="Email Link Clicked",
            timestamp=at,
            received_at=at,
        )
    )


def test_schedule_runs_the_enrollment_for_the_journeys_segment() -> None:
    schedule = enrollment_schedule(WaitingJourney, "tq", every=timedelta(minutes=30))
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == ENROLLMENT
    assert action.task_queue == "tq"
    assert action.id == f"{schedule_id('test_segment_journey')}-run"
    (arg,) = action.args
    assert arg == EnrollmentInput(
        journey="test_segment_journey", segment="no_click_15d", exit_on_leave=True
    )
    assert schedule.spec.intervals == [ScheduleIntervalSpec(every=timedelta(minutes=30))]


def test_journeys_without_segment_get_no_schedule() -> None:
    class Plain(Journey):
        spec = WaitingJourney.spec.__class__(name="plain")

    try:
        enrollment_schedule(Plain, "tq")
    except ValueError as exc:
        assert "declares no segment" in str(exc)
    else:
        raise AssertionError("expected ValueError")
