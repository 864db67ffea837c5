"""Membership kept current: one contact's segment-entry journeys, re-checked when it matters.

Called after each routed event or trait change (``gateway/live_segments.py``) and by the
wake-up sweep (:mod:`activities.wakeups`), :meth:`MembershipKeeper.check` re-evaluates, for one
contact, only the segments of segment-entry journeys that the event can affect (see
:mod:`store.segments.affects`), in one SQL query, and compares the answer with the enrollment
record the hourly scan keeps (``segment_enrollments``):

- a member not recorded is *entering*: the journey is started, then the enrollment recorded;
- a recorded contact who is no longer a member is *leaving*: journeys declared with
  ``exit_on_segment_leave`` get ``Segment Left`` (its message id names the enrollment, so a
  repeat is dropped as a duplicate), then the record is forgotten;
- anything else is no crossing and does nothing, so a second qualifying event while enrolled
  starts nothing.

Exactly once per crossing: the relay routes one contact's events one at a time (a per-contact
claim), so two checks of one contact never interleave; a check racing the hourly scan is
settled by Temporal, which refuses a second start of a running journey (deterministic id).
Starting before recording makes a crash in between harmless: the retry finds the journey
running. Time-dependent segments also get their next wake-up stored (:mod:`store.segments.wakeups`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog

from activities.segment_models import SEGMENT_LEFT
from store import Store
from store.segments import Catalog, SegmentRepo
from store.segments.affects import Inputs, inputs
from store.segments.wakeups import WakeupRepo
from workflows.models import Event

log = structlog.get_logger(__name__)
IDENTIFY = ("identify", "group")


class Starter(Protocol):
    """Starts journeys and routes events (the router)."""

    async def start(
        self, name: str, contact_id: str, time_scale: float | None = None
    ) -> tuple[str, bool]: ...

    async def route(self, contact_id: str, event: Event) -> Any: ...


@dataclass(frozen=True)
class Entry:
    """A journey that contacts enter by joining ``segment``."""

    journey: str
    segment: str
    exit_on_leave: bool


@dataclass
class Crossings:
    """What one check did."""

    entered: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)


def entries(journeys: Sequence[Any]) -> list[Entry]:
    """The segment-entry journeys among ``journeys`` (classes with a ``spec``)."""
    return [
        Entry(j.spec.name, j.spec.segment, j.spec.exit_on_segment_leave)
        for j in journeys
        if j.spec.segment is not None
    ]


class MembershipKeeper:
    """Re-checks one contact's segment-entry journeys.

    Args:
        store: the contact store.
        catalog: the named segments.
        journeys: the registered journey classes (those with ``segment=`` matter).
        starter: starts journeys and routes ``Segment Left`` (the router).
    """

    def __init__(
        self, store: Store, catalog: Catalog, journeys: Sequence[Any], starter: Starter
    ) -> None:
        self.segments = SegmentRepo(store.engine, catalog)
        self.wakeups = WakeupRepo(store.engine, catalog)
        self.starter = starter
        self.entries = entries(journeys)
        self.inputs: dict[str, Inputs] = {
            e.segment: inputs(catalog.segments[e.segment], catalog)
            for e in self.entries
            if e.segment in catalog.segments
        }

    def affected(self, event: Event) -> list[str]:
        """The entry segments ``event`` (a track event or an identify) can change."""
        if event.name in IDENTIFY:
            names = [str(t) for t in event.properties.get("traits") or []]
            return [s for s, i in self.inputs.items() if i.hears_traits(names)]
        return [s for s, i in self.inputs.items() if i.hears(event.name)]

    async def after(self, contact_id: str, event: Event, now: datetime) -> Crossings:
        """Check the segments ``event`` can affect (nothing at all for most events)."""
        names = self.affected(event)
        if not names:
            return Crossings()
        return await self.check(contact_id, names, now)

    async def check(
        self,
        contact_id: str,
        names: Sequence[str],
        now: datetime,
        time_scale: float | None = None,
    ) -> Crossings:
        """Enter or leave the journeys of segments ``names`` as the contact's answers say
        (journeys started at ``time_scale``, the starter's own if None)."""
        inside = await self.segments.memberships(contact_id, list(names), now=now)
        enrolled = await self.segments.enrolled(contact_id)
        done = Crossings()
        for entry in self.entries:
            if entry.segment not in inside:
                continue
            member, recorded = inside[entry.segment], entry.journey in enrolled
            if member and not recorded:
                _, started = await self.starter.start(
                    entry.journey, contact_id, time_scale=time_scale
                )
                await self.segments.record_enrollments(
                    entry.journey, entry.segment, [contact_id], now
                )
                done.entered.append(entry.journey)
                log.info(
                    "segment entered",
                    contact_id=contact_id,
                    segment=entry.segment,
                    journey=entry.journey,
                    started=started,
                )
            elif recorded and not member:
                if entry.exit_on_leave:
                    await self.starter.route(
                        contact_id, left_event(entry, contact_id, enrolled[entry.journey], now)
                    )
                await self.segments.forget(entry.journey, [contact_id])
                done.left.append(entry.journey)
                log.info(
                    "segment left",
                    contact_id=contact_id,
                    segment=entry.segment,
                    journey=entry.journey,
                )
        for name in dict.fromkeys(names):
            if name in self.inputs and self.inputs[name].timed:
                rule = self.segments.rule(name)
                await self.wakeups.set(
                    name, contact_id, await self.wakeups.next_change(rule, contact_id, now)
                )
        return done


def left_event(entry: Entry, contact_id: str, enrolled_at: datetime, now: datetime) -> Event:
    """``Segment Left`` for one enrollment: the same message id however often it is sent."""
    return Event(
        message_id=f"segment-left/{entry.segment}/{contact_id}/{enrolled_at.isoformat()}",
        name=SEGMENT_LEFT,
        properties={"segment": entry.segment, "journey": entry.journey},
        timestamp=now,
    )
