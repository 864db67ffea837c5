"""Date-based entry: a journey entered every year on a contact's date, at a local hour.

A journey declares ``date_entry = DateEntry(field="birthday", hour=9)`` as a class attribute
(and usually ``reentry=Reentry.after_exit``: the yearly rule is kept here, not by the id).
:func:`ensure_date_schedules` gives it a Temporal Schedule, like segment entries, that runs
:class:`DateEnrollment` every hour; each run pages through the contacts whose date is around
today and starts the journey for those due now in their own timezone and not entered this
year (``activities/dates.py`` has the rule: DST-correct, 29 February, catch-up). Contact ids
stay in the activities; the history holds cursors and counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
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

with workflow.unsafe.imports_passed_through():
    from activities.date_models import DATE_ENTRY_PAGE, DateEntryDone, DateEntryPage

DATE_ENROLLMENT = "date_enrollment"
EVERY = timedelta(hours=1)
PAGE_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class DateEntry:
    """A yearly entry on a contact's date field, at ``hour`` o'clock local time."""

    field: str = "birthday"
    hour: int = 9


class DateEnrollmentInput(BaseModel):
    """One run: enter the due contacts of ``journey``."""

    journey: str
    field: str = "birthday"
    hour: int = 9
    batch_size: int = 1000
    after: str | None = None
    history_events: int = 200
    # The pace of the journeys it starts (workflows/clock.py), set by the worker from
    # SOJOURN_DEV_TIME_SCALE; None (runs that predate it): the router's own.
    time_scale: float | None = None


class DateEnrollmentResult(BaseModel):
    """How many contacts the run started (and how many their journey refused)."""

    started: int = 0
    refused: int = 0


@workflow.defn(name=DATE_ENROLLMENT)
class DateEnrollment:
    """Start a date-entry journey for the contacts due now (one run of its schedule)."""

    @workflow.run
    async def run(self, input: DateEnrollmentInput) -> DateEnrollmentResult:
        """Page through the contacts due now; continue as new when the history is long."""
        now = workflow.now()
        total = DateEnrollmentResult()
        after = input.after
        while True:
            page = await workflow.execute_activity(
                DATE_ENTRY_PAGE,
                DateEntryPage(
                    journey=input.journey,
                    field=input.field,
                    hour=input.hour,
                    now=now,
                    after=after,
                    limit=input.batch_size,
                    time_scale=input.time_scale,
                ),
                result_type=DateEntryDone,
                start_to_close_timeout=PAGE_TIMEOUT,
            )
            total.started += page.started
            total.refused += page.refused
            workflow.set_current_details(f"{input.journey}: {total.started} entered")
            if page.after is None:
                return total
            after = page.after
            if workflow.info().get_current_history_length() >= input.history_events:
                workflow.continue_as_new(input.model_copy(update={"after": after}))


def date_schedule_id(journey: str) -> str:
    """The id of a journey's date-entry schedule."""
    return f"dates-{journey}"


def date_schedule(
    journey: Any, task_queue: str, every: timedelta = EVERY, time_scale: float | None = None
) -> Schedule:
    """The hourly schedule of a journey that declares ``date_entry``."""
    entry: DateEntry = journey.date_entry
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DATE_ENROLLMENT,
            DateEnrollmentInput(
                journey=journey.spec.name,
                field=entry.field,
                hour=entry.hour,
                time_scale=time_scale,
            ),
            id=f"{date_schedule_id(journey.spec.name)}-run",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_date_schedules(
    client: Client,
    journeys: Sequence[Any],
    task_queue: str,
    every: timedelta = EVERY,
    time_scale: float | None = None,
) -> list[str]:
    """Create (or update) the schedule of every journey with a ``date_entry``; the ids."""
    ids = []
    for journey in journeys:
        if getattr(journey, "date_entry", None) is None:
            continue
        schedule = date_schedule(journey, task_queue, every, time_scale)
        sid = date_schedule_id(journey.spec.name)
        try:
            await client.create_schedule(sid, schedule)
        except ScheduleAlreadyRunningError:

            def replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(sid).update(replace)
        ids.append(sid)
    return ids
