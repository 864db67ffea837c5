"""Segment activities: membership lookups for journeys, scores and segment enrollment."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.segment_models import (
    ENROLL_CONTACTS,
    ENROLL_PAGE,
    ENROLLMENT_PAGE,
    LEAVERS_PAGE,
    LOOKUP_SEGMENTS,
    REFRESH_SCORES,
    SEGMENT_LEAVERS,
    SEGMENT_LEFT,
    EnrollContacts,
    Enrolled,
    EnrollmentPage,
    EnrollmentPageRequest,
    EnrollPage,
    Leavers,
    LeaversPage,
    LeaversRequest,
    LookupSegments,
    PageDone,
    RefreshScores,
    ScoresRefreshed,
    SegmentMembership,
)
from store import Store
from store.segments import Catalog, RuleError, SegmentRepo
from workflows.models import Event

log = structlog.get_logger(__name__)


class JourneyStarter(Protocol):
    """Starts journeys and routes events (the router, in production)."""

    async def start(
        self, name: str, contact_id: str, time_scale: float | None = None
    ) -> tuple[str, bool]: ...

    async def route(self, contact_id: str, event: Event) -> Any: ...


class SegmentActivities:
    """Segment lookups and enrollment; the store, catalog and router are injected once.

    Args:
        store: the contact store.
        catalog: the named segments (``journeys.segments.CATALOG``).
        starter: starts journeys for enrolled contacts (the router); optional for workers
            that only look segments up.
    """

    def __init__(self, store: Store, catalog: Catalog, starter: JourneyStarter | None = None):
        self.segments = SegmentRepo(store.engine, catalog)
        self.starter = starter

    @activity.defn(name=LOOKUP_SEGMENTS)
    async def lookup_segments(self, request: LookupSegments) -> SegmentMembership:
        """Membership of one contact in the named segments, in one SQL query."""
        try:
            found = await self.segments.memberships(request.contact_id, request.names)
        except RuleError as exc:
            # A typo in a journey will not fix itself on retry.
            raise ApplicationError(str(exc), type="UnknownSegment", non_retryable=True) from exc
        return SegmentMembership(contact_id=request.contact_id, segments=found)

    @activity.defn(name=REFRESH_SCORES)
    async def refresh_scores(self, request: RefreshScores) -> ScoresRefreshed:
        """Recompute RFM quintiles over the whole base."""
        return ScoresRefreshed(scored=await self.segments.refresh_scores(now=request.now))

    @activity.defn(name=ENROLL_PAGE)
    async def enroll_page(self, request: EnrollPage) -> PageDone:
        """Enrol the next page of members: the ids stay here, the workflow gets a cursor.

        A retry is harmless: contacts recorded by the failed attempt are no longer on the
        page, and a journey it started refuses a second start (its id is deterministic).
        """
        ids = await self.segments.to_enroll(
            request.journey,
            request.segment,
            now=request.now,
            after=request.after,
            limit=request.limit,
        )
        if not ids:
            return PageDone(after=None)
        outcome = await self._start_all(
            request.journey, ids, request.concurrency, request.time_scale
        )
        await self.segments.record_enrollments(request.journey, request.segment, ids, request.now)
        log.info(
            "segment enrollment page",
            journey=request.journey,
            segment=request.segment,
            contacts=len(ids),
            started=outcome.started,
            refused=outcome.refused,
        )
        return PageDone(
            after=ids[-1], contacts=len(ids), started=outcome.started, refused=outcome.refused
        )

    @activity.defn(name=LEAVERS_PAGE)
    async def leavers_page(self, request: LeaversPage) -> PageDone:
        """Forget the next page of contacts who left the segment, telling their journeys first.

        ``Segment Left`` message ids are stable per enrollment run, so a retry that routes
        them again is dropped by the journeys as a duplicate.
        """
        left = await self.segments.leavers(
            request.journey,
            request.segment,
            now=request.now,
            after=request.after,
            limit=request.limit,
        )
        if not left:
            return PageDone(after=None)
        if request.notify:
            await self._tell_leavers(request.journey, request.segment, left, request)
        await self.segments.forget(request.journey, left)
        return PageDone(after=left[-1], contacts=len(left))

    # ---- enrollment runs started before cursor paging (they carry ids; kept so they finish)

    @activity.defn(name=ENROLLMENT_PAGE)
    async def enrollment_page(self, request: EnrollmentPageRequest) -> EnrollmentPage:
        """The next members of the segment that the journey has not enrolled yet."""
        ids = await self.segments.to_enroll(
            request.journey,
            request.segment,
            now=request.now,
            after=request.after,
            limit=request.limit,
        )
        return EnrollmentPage(contact_ids=ids)

    @activity.defn(name=ENROLL_CONTACTS)
    async def enroll_contacts(self, request: EnrollContacts) -> Enrolled:
        """Start the journey for each contact (bounded concurrency), then record them.

        Starting first and recording after makes a crash in between harmless: the retry finds
        the journey running (the id is deterministic) and the start is refused, not repeated.
        """
        outcome = await self._start_all(
            request.journey, request.contact_ids, request.concurrency, request.time_scale
        )
        await self.segments.record_enrollments(
            request.journey, request.segment, request.contact_ids, request.now
        )
        log.info(
            "segment enrollment batch",
            journey=request.journey,
            segment=request.segment,
            started=outcome.started,
            refused=outcome.refused,
        )
        return outcome

    @activity.defn(name=SEGMENT_LEAVERS)
    async def segment_leavers(self, request: LeaversRequest) -> Leavers:
        """Forget contacts who left the segment (they may enter again when they rejoin).

        With ``notify``, each gets a ``Segment Left`` event so a journey declared with
        ``exit_on_segment_leave`` can end; the message id is stable per run, so a retried
        activity never delivers it twice.
        """
        left = await self.segments.leavers(request.journey, request.segment, now=request.now)
        if request.notify and left:
            await self._tell_leavers(request.journey, request.segment, left, request)
        await self.segments.forget(request.journey, left)
        return Leavers(contact_ids=left)

    async def _start_all(
        self, journey: str, ids: list[str], concurrency: int, time_scale: float | None = None
    ) -> Enrolled:
        """Start ``journey`` for each contact, ``concurrency`` at a time."""
        starter = self._starter()
        gate = asyncio.Semaphore(max(1, concurrency))
        outcome = Enrolled()

        async def one(contact_id: str) -> None:
            async with gate:
                _, started = await starter.start(journey, contact_id, time_scale=time_scale)
            if started:
                outcome.started += 1
            else:
                outcome.refused += 1
            activity.heartbeat(outcome.started + outcome.refused)

        await asyncio.gather(*(one(cid) for cid in ids))
        return outcome

    async def _tell_leavers(
        self, journey: str, segment: str, left: list[str], request: LeaversRequest | LeaversPage
    ) -> None:
        # Tell the journeys first, forget second: a retry after a failed route finds the same
        # leavers again (the stable message ids make a repeated delivery harmless).
        starter = self._starter()
        for contact_id in left:
            await starter.route(
                contact_id,
                Event(
                    message_id=f"segment-left/{segment}/{contact_id}/{request.run_id}",
                    name=SEGMENT_LEFT,
                    properties={"segment": segment, "journey": journey},
                    timestamp=request.now,
                ),
            )

    def _starter(self) -> JourneyStarter:
        if self.starter is None:
            raise ApplicationError(
                "segment enrollment needs a router: build SegmentActivities with starter=",
                type="Misconfigured",
                non_retryable=True,
            )
        return self.starter

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for ``Worker(activities=...)``."""
        return [
            self.lookup_segments,
            self.refresh_scores,
            self.enroll_page,
            self.leavers_page,
            self.enrollment_page,
            self.enroll_contacts,
            self.segment_leavers,
        ]
