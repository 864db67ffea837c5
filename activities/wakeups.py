"""The wake-up sweep's activity: re-check the contacts whose next crossing is due.

See :mod:`store.segments.wakeups` for how the due moments are computed and
:mod:`workflows.wakeups` for the schedule that runs this every minute.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from temporalio import activity

from activities.membership import MembershipKeeper, Starter
from activities.wakeup_models import SWEEP_WAKEUPS, SweepDone, SweepWakeups
from store import Store
from store.segments import Catalog

log = structlog.get_logger(__name__)


class WakeupActivities:
    """The sweep, with the store, catalog, journeys and router injected once."""

    def __init__(
        self, store: Store, catalog: Catalog, journeys: Sequence[Any], starter: Starter
    ) -> None:
        self.keeper = MembershipKeeper(store, catalog, journeys, starter)

    @activity.defn(name=SWEEP_WAKEUPS)
    async def sweep(self, request: SweepWakeups) -> SweepDone:
        """Re-check up to ``limit`` due (segment, contact) pairs; ``more`` if others wait.

        Each check stores the contact's next wake-up (later than ``now``) or drops it, so a
        retried page simply finds fewer rows due.
        """
        due = await self.keeper.wakeups.due(request.now, request.limit)
        by_contact: dict[str, list[str]] = {}
        for segment, contact_id in due:
            by_contact.setdefault(contact_id, []).append(segment)
        done = SweepDone(contacts=len(by_contact), more=len(due) >= request.limit)
        for contact_id, segments in by_contact.items():
            known = [s for s in segments if s in self.keeper.inputs]
            for gone in set(segments) - set(known):  # no journey enters on it any more
                await self.keeper.wakeups.set(gone, contact_id, None)
            if known:
                crossed = await self.keeper.check(
                    contact_id, known, request.now, time_scale=request.time_scale
                )
                done.entered += len(crossed.entered)
                done.left += len(crossed.left)
            activity.heartbeat(done.entered + done.left)
        if due:
            log.info(
                "segment wake-ups swept",
                contacts=done.contacts,
                entered=done.entered,
                left=done.left,
            )
        return done

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for ``Worker(activities=...)``."""
        return [self.sweep]
