"""Client side: the interval Schedules that run the enrollment, date-entry and wake-up workflows.

Each is one workflow started every ``every`` with overlaps skipped (a slow run finishes before
the next starts), created at worker start or replaced in place when it exists, so a deploy that
changes its input or interval takes effect without deleting anything.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)


def interval_schedule(
    workflow: str, input: BaseModel, schedule_id: str, task_queue: str, every: timedelta
) -> Schedule:
    """Start ``workflow(input)`` every ``every`` (runs named ``<schedule_id>-run``)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            workflow, input, id=f"{schedule_id}-run", task_queue=task_queue
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def upsert_schedule(client: Client, schedule_id: str, schedule: Schedule) -> str:
    """Create the schedule, or replace the one of that id; returns the id."""
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)
    return schedule_id
