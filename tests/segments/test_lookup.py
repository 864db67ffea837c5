"""``lookup_segments``: the activity, and the ``in_segment`` verb journeys branch with."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.segment_models import LookupSegments
from activities.segments import SegmentActivities
from journeys.segments import CATALOG
from store import Store
from tests.segments.helpers import did, person
from tests.segments.verbs_fixture import Probe


async def vip(store: Store) -> None:
    await person(store, "rich", createdAt="2020-01-01T00:00:00Z")
    await did(store, "rich", "Order Completed", total=900)
    await person(store, "poor", createdAt="2020-01-01T00:00:00Z")


async def test_lookup_activity(db: Store) -> None:
    await vip(db)
    acts = SegmentActivities(db, CATALOG)
    env = ActivityEnvironment()
    got = await env.run(acts.lookup_segments, LookupSegments(contact_id="rich", names=["vip"]))
    assert got.segments == {"vip": True}
    with pytest.raises(ApplicationError) as caught:
        await env.run(acts.lookup_segments, LookupSegments(contact_id="rich", names=["vipp"]))
    assert caught.value.non_retryable and "unknown segment 'vipp'" in str(caught.value)


async def test_in_segment_verb(
    time_env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    await vip(store)
    acts = SegmentActivities(store, CATALOG)
    async with Worker(
        time_env.client, task_queue=task_queue, workflows=[Probe], activities=acts.all()
    ):
        for contact, expected in (("rich", True), ("poor", False)):
            result = await time_env.client.execute_workflow(
                "segment_verbs_probe",
                contact,
                id=f"probe-{contact}-{task_queue}",
                task_queue=task_queue,
                result_type=bool,
            )
            assert result is expected
