"""Segment-triggered journeys: the enrollment workflow and the schedules that run it.

A journey declared with ``@journey(..., segment="inactive")`` gets a Temporal Schedule
(:func:`ensure_schedules`) that runs :class:`SegmentEnrollment` periodically. Each run computes
the segment's members in SQL and starts the journey for every member not enrolled yet, page by
page, showing its progress in the Web UI (current details and the ``progress`` query).
Enrollments are recorded in the store, so re-running it enrols nobody twice; a contact who
leaves the segment is forgotten and enters again only after rejoining (and only if the
journey's re-entry policy allows it).

Contact ids stay out of the history: the activities page through the segment by cursor and
answer with the next cursor and counts, and the workflow continues as new between pages once
its history passes a bound, so a run's history is the same size for a thousand contacts or a
million.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import Client, Schedule

from workflows.schedules import interval_schedule, upsert_schedule

with workflow.unsafe.imports_passed_through():
    from activities.segment_models import (
        ENROLL_CONTACTS,
        ENROLL_PAGE,
        ENROLLMENT_PAGE,
        LEAVERS_PAGE,
        REFRESH_SCORES,
        SEGMENT_LEAVERS,
        EnrollContacts,
        Enrolled,
        EnrollmentPage,
        EnrollmentPageRequest,
        EnrollPage,
        Leavers,
        LeaversPage,
        LeaversRequest,
        PageDone,
        RefreshScores,
        ScoresRefreshed,
    )

ENROLLMENT = "segment_enrollment"
DEFAULT_EVERY = timedelta(hours=1)
PAGE_TIMEOUT = timedelta(minutes=5)
BATCH_TIMEOUT = timedelta(minutes=10)
# Runs that page by cursor record this patch; runs started before it replay the old way.
CURSORS = "enrollment-cursors"


class EnrollmentProgress(BaseModel):
    """How far a run got; the result of the workflow and of its ``progress`` query."""

    journey: str
    segment: str
    batches: int = 0
    started: int = 0
    refused: int = 0
    left: int = 0
    done: bool = False


class EnrollmentCursor(BaseModel):
    """Where a run is, carried from one history to the next by continue-as-new.

    Attributes:
        now: the one moment the whole run evaluates the segment at.
        run_id: the first run's id (stable ``Segment Left`` message ids).
        phase: what comes next: scores, leavers, or enrolling new members.
        after: the last contact id of the phase's previous page.
        progress: the counts so far.
    """

    now: datetime
    run_id: str
    phase: Literal["scores", "leavers", "enroll"] = "scores"
    after: str | None = None
    progress: EnrollmentProgress


class EnrollmentInput(BaseModel):
    """One enrollment run for one journey.

    Attributes:
        journey: the journey to start for new members.
        segment: the named segment whose members enter.
        batch_size: contacts per page (per activity).
        concurrency: journeys started at once within a page (runs started before cursor
            paging read it as pages in flight).
        exit_on_leave: tell journeys of contacts who left the segment (``Segment Left``).
        refresh_scores: recompute RFM scores first (for segments on RFM groups).
        history_events: continue as new between pages once a run's history has this many
            events (or Temporal suggests it).
        cursor: where the run is; set by continue-as-new only.
    """

    journey: str
    segment: str
    batch_size: int = 1000
    concurrency: int = 50
    exit_on_leave: bool = False
    refresh_scores: bool = True
    history_events: int = 200
    cursor: EnrollmentCursor | None = None
    # The pace of the journeys it starts (workflows/clock.py), set by the worker from
    # SOJOURN_DEV_TIME_SCALE; None (runs that predate it): the router's own.
    time_scale: float | None = None


@workflow.defn(name=ENROLLMENT)
class SegmentEnrollment:
    """Enrol a segment's new members into a journey (one run of the schedule)."""

    def __init__(self) -> None:
        self._progress = EnrollmentProgress(journey="", segment="")

    @workflow.query(name="progress")
    def progress(self) -> EnrollmentProgress:
        """Batches done and contacts started so far."""
        return self._progress

    @workflow.run
    async def run(self, input: EnrollmentInput) -> EnrollmentProgress:
        """Refresh scores, forget leavers, then enrol new members page by page."""
        if input.cursor is None and not workflow.patched(CURSORS):
            return await self._run_with_ids(input)
        cursor = input.cursor or EnrollmentCursor(
            now=workflow.now(),
            run_id=workflow.info().run_id,
            progress=EnrollmentProgress(journey=input.journey, segment=input.segment),
        )
        self._progress = cursor.progress
        if cursor.phase == "scores":
            if input.refresh_scores:
                await workflow.execute_activity(
                    REFRESH_SCORES,
                    RefreshScores(now=cursor.now),
                    result_type=ScoresRefreshed,
                    start_to_close_timeout=BATCH_TIMEOUT,
                )
            cursor.phase = "leavers"
        while cursor.phase == "leavers":
            page = await workflow.execute_activity(
                LEAVERS_PAGE,
                LeaversPage(
                    journey=input.journey,
                    segment=input.segment,
                    now=cursor.now,
                    after=cursor.after,
                    limit=input.batch_size,
                    notify=input.exit_on_leave,
                    run_id=cursor.run_id,
                ),
                result_type=PageDone,
                start_to_close_timeout=BATCH_TIMEOUT,
                heartbeat_timeout=timedelta(minutes=1),
            )
            self._progress.left += page.contacts
            cursor.after = page.after
            if page.after is None:
                cursor.phase = "enroll"
            self._details()
            self._continue_if_long(input, cursor)
        while True:
            page = await workflow.execute_activity(
                ENROLL_PAGE,
                EnrollPage(
                    journey=input.journey,
                    segment=input.segment,
                    now=cursor.now,
                    after=cursor.after,
                    limit=input.batch_size,
                    concurrency=input.concurrency,
                    time_scale=input.time_scale,
                ),
                result_type=PageDone,
                start_to_close_timeout=BATCH_TIMEOUT,
                heartbeat_timeout=timedelta(minutes=1),
            )
            if page.after is None:
                break
            cursor.after = page.after
            self._progress.batches += 1
            self._progress.started += page.started
            self._progress.refused += page.refused
            self._details()
            self._continue_if_long(input, cursor)
        self._progress.done = True
        self._details()
        return self._progress

    def _continue_if_long(self, input: EnrollmentInput, cursor: EnrollmentCursor) -> None:
        """Between pages: start a fresh history once this one is long, carrying the cursor."""
        info = workflow.info()
        if (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= input.history_events
        ):
            workflow.continue_as_new(input.model_copy(update={"cursor": cursor}))

    async def _run_with_ids(self, input: EnrollmentInput) -> EnrollmentProgress:
        """How runs started before cursor paging go on: pages of ids through the history."""
        now = workflow.now()  # one "now" for every page: the run sees one consistent segment
        self._progress = EnrollmentProgress(journey=input.journey, segment=input.segment)
        if input.refresh_scores:
            await workflow.execute_activity(
                REFRESH_SCORES,
                RefreshScores(now=now),
                result_type=ScoresRefreshed,
                start_to_close_timeout=BATCH_TIMEOUT,
            )
        left = await workflow.execute_activity(
            SEGMENT_LEAVERS,
            LeaversRequest(
                journey=input.journey,
                segment=input.segment,
                now=now,
                notify=input.exit_on_leave,
                run_id=workflow.info().run_id,
            ),
            result_type=Leavers,
            start_to_close_timeout=BATCH_TIMEOUT,
        )
        self._progress.left = len(left.contact_ids)
        in_flight: list[asyncio.Task[Enrolled]] = []
        after: str | None = None
        while True:
            page = await workflow.execute_activity(
                ENROLLMENT_PAGE,
                EnrollmentPageRequest(
                    journey=input.journey,
                    segment=input.segment,
                    now=now,
                    after=after,
                    limit=input.batch_size,
                ),
                result_type=EnrollmentPage,
                start_to_close_timeout=PAGE_TIMEOUT,
            )
            if not page.contact_ids:
                break
            after = page.contact_ids[-1]
            in_flight.append(asyncio.create_task(self._enroll(input, page.contact_ids, now)))
            if len(in_flight) >= input.concurrency:
                done, pending = await workflow.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                in_flight = list(pending)
                for task in done:
                    task.result()  # surface a failed batch
        for task in in_flight:
            await task
        self._progress.done = True
        self._details()
        return self._progress

    async def _enroll(self, input: EnrollmentInput, ids: list[str], now: Any) -> Enrolled:
        result = await workflow.execute_activity(
            ENROLL_CONTACTS,
            EnrollContacts(
                journey=input.journey,
                segment=input.segment,
                contact_ids=ids,
                now=now,
                time_scale=input.time_scale,
            ),
            result_type=Enrolled,
            start_to_close_timeout=BATCH_TIMEOUT,
            heartbeat_timeout=timedelta(minutes=1),
        )
        self._progress.batches += 1
        self._progress.started += result.started
        self._progress.refused += result.refused
        self._details()
        return result

    def _details(self) -> None:
        p = self._progress
        state = "done" if p.done else "enrolling"
        workflow.set_current_details(
            f"{state} {p.segment} → {p.journey}: {p.batches} batches, {p.started} started, "
            f"{p.refused} refused, {p.left} left the segment"
        )


# ---- schedules (client side) -----------------------------------------------------------------


def schedule_id(journey: str) -> str:
    """The id of a journey's enrollment schedule."""
    return f"enroll-{journey}"


def enrollment_schedule(
    journey: Any,
    task_queue: str,
    every: timedelta = DEFAULT_EVERY,
    time_scale: float | None = None,
) -> Schedule:
    """The schedule that enrols ``journey``'s segment (a ``Journey`` class with a segment).

    Overlapping runs are skipped: a slow run finishes before the next one starts.
    """
    spec = journey.spec
    if spec.segment is None:
        raise ValueError(f"journey {spec.name!r} declares no segment")
    input = EnrollmentInput(
        journey=spec.name,
        segment=spec.segment,
        exit_on_leave=spec.exit_on_segment_leave,
        time_scale=time_scale,
    )
    return interval_schedule(ENROLLMENT, input, schedule_id(spec.name), task_queue, every)


async def ensure_schedules(
    client: Client,
    journeys: Sequence[Any],
    task_queue: str,
    every: timedelta = DEFAULT_EVERY,
    time_scale: float | None = None,
) -> list[str]:
    """Create (or update) one enrollment schedule per segment-entry journey; returns the ids."""
    return [
        await upsert_schedule(
            client,
            schedule_id(journey.spec.name),
            enrollment_schedule(journey, task_queue, every, time_scale),
        )
        for journey in journeys
        if journey.spec.segment is not None
    ]
