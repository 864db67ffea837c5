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
from temporalio.client import Client, Schedule

from workflows.schedules import interval_schedule, upsert_schedule

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
    name = journey.spec.name
    input = DateEnrollmentInput(
        journey=name, field=entry.field, hour=entry.hour, time_scale=time_scale
    )
    return interval_schedule(DATE_ENROLLMENT, input, date_schedule_id(name), task_queue, every)


async def ensure_date_schedules(
    client: Client,
    journeys: Sequence[Any],
    task_queue: str,
    every: timedelta = EVERY,
    time_scale: float | None = None,
) -> list[str]:
    """Create (or update) the schedule of every journey with a ``date_entry``; the ids."""
    return [
        await upsert_schedule(
            client,
            date_schedule_id(journey.spec.name),
            date_schedule(journey, task_queue, every, time_scale),
        )
        for journey in journeys
        if getattr(journey, "date_entry", None) is not None
    ]
