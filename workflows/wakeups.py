"""The wake-up sweep: every minute, the contacts whose segment answer may have changed by now.

A Temporal Schedule (``segment-wakeups``, every minute, overlapping runs skipped) starts
:class:`WakeupSweep`; it pages through the due list (``segment_wakeups``, an index on the due
time) with one activity per thousand contacts, each answering with counts only, and continues
as new if a backlog makes its history long. One row per contact and time-dependent segment and
one sweep a minute cost the same for ten thousand contacts or ten million, where a durable timer
per contact would be ten million open workflows. A wake-up is late by at most the sweep's
interval (a minute).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import Client, Schedule

from workflows.schedules import interval_schedule, upsert_schedule

with workflow.unsafe.imports_passed_through():
    from activities.wakeup_models import SWEEP_WAKEUPS, SweepDone, SweepWakeups

SWEEP = "segment_wakeups"
SCHEDULE_ID = "segment-wakeups"
EVERY = timedelta(minutes=1)


class SweepInput(BaseModel):
    """One sweep; ``contacts``/``entered``/``left`` carry the counts across continue-as-new."""

    page: int = 1000
    history_events: int = 200
    contacts: int = 0
    entered: int = 0
    left: int = 0
    # The pace of the journeys it starts (workflows/clock.py), set by the worker from
    # SOJOURN_DEV_TIME_SCALE; None (runs that predate it): the router's own.
    time_scale: float | None = None


class SweepResult(BaseModel):
    """How many contacts were re-checked, and how many crossed."""

    contacts: int = 0
    entered: int = 0
    left: int = 0


@workflow.defn(name=SWEEP)
class WakeupSweep:
    """Re-check every contact whose wake-up is due (one run of the schedule)."""

    @workflow.run
    async def run(self, input: SweepInput) -> SweepResult:
        """Page through the due list until nothing is due at the run's start."""
        now = workflow.now()
        result = SweepResult(contacts=input.contacts, entered=input.entered, left=input.left)
        while True:
            page = await workflow.execute_activity(
                SWEEP_WAKEUPS,
                SweepWakeups(now=now, limit=input.page, time_scale=input.time_scale),
                result_type=SweepDone,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(minutes=1),
            )
            result.contacts += page.contacts
            result.entered += page.entered
            result.left += page.left
            workflow.set_current_details(
                f"{result.contacts} contacts re-checked, {result.entered} entered, "
                f"{result.left} left"
            )
            if not page.more:
                return result
            info = workflow.info()
            if info.get_current_history_length() >= input.history_events:
                workflow.continue_as_new(input.model_copy(update=result.model_dump()))


def sweep_schedule(
    task_queue: str, every: timedelta = EVERY, time_scale: float | None = None
) -> Schedule:
    """The schedule that runs the sweep every ``every`` (overlaps skipped)."""
    return interval_schedule(
        SWEEP, SweepInput(time_scale=time_scale), SCHEDULE_ID, task_queue, every
    )


async def ensure_sweep_schedule(
    client: Client, task_queue: str, every: timedelta = EVERY, time_scale: float | None = None
) -> str:
    """Create (or update) the sweep's schedule; returns its id."""
    return await upsert_schedule(client, SCHEDULE_ID, sweep_schedule(task_queue, every, time_scale))
