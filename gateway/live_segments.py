"""The relay's router, with segment membership kept current after each routed event.

:func:`live_segments` wraps the router factory the gateway's relay uses: each event is routed
as before, then :class:`activities.membership.MembershipKeeper` re-checks the contact's
segment-entry journeys that this event (or trait change) can affect, so a contact who
qualifies enters within the relay's lag instead of at the next hourly scan. A failure there
fails the route, and the relay retries the event: journeys drop the repeated delivery by
``messageId``, and the keeper starts nothing twice.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from activities.membership import MembershipKeeper
from gateway.relay import EventRouter, RouterFactory
from journeys.segments import CATALOG
from store import Store
from store._sql import now as utcnow
from store.segments import Catalog
from store.segments.affects import inputs
from workflows.models import Event


@cache
def _read_traits() -> frozenset[str]:
    found: set[str] = set()
    for rule in CATALOG.segments.values():
        found |= inputs(rule, CATALOG).traits
    return frozenset(found)


def segments_read(traits: list[str]) -> bool:
    """Does any named segment read one of these traits? (Then an identify is worth routing.)"""
    read = _read_traits()
    return any(name in read for name in traits)


class LiveSegmentsRouter:
    """Routes through ``router``, then keeps the contact's segment journeys current."""

    def __init__(self, router: Any, keeper: MembershipKeeper) -> None:
        self.router = router
        self.keeper = keeper

    async def route(self, contact_id: str, event: Event) -> object:
        routed = await self.router.route(contact_id, event)
        await self.keeper.after(contact_id, event, utcnow())
        return routed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.router, name)  # start, listeners, journeys…: the router's own


def live_segments(factory: RouterFactory, store: Store, catalog: Catalog) -> RouterFactory:
    """A factory whose routers keep segment membership current (journeys from the router)."""

    async def build() -> EventRouter:
        router = await factory()
        journeys = list(getattr(router, "journeys", {}).values())
        keeper = MembershipKeeper(store, catalog, journeys, router)  # type: ignore[arg-type]
        if not keeper.entries:
            return router  # no segment-entry journey: nothing to keep
        return LiveSegmentsRouter(router, keeper)

    return build
