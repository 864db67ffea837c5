"""The activity that hands a merged send's part to the contact's digest journey."""

from __future__ import annotations

from typing import Protocol

from temporalio import activity

from activities.merge_models import DIGEST_PART, QUEUE_PART, DigestPart, PartQueued
from workflows.models import Event


class EventRouter(Protocol):
    """The router (production) or anything that routes an event to a contact's journeys."""

    async def route(self, contact_id: str, event: Event) -> object: ...


class MergeActivities:
    """Routes parts as ``Digest Part`` events: the first one starts the digest journey."""

    def __init__(self, router: EventRouter) -> None:
        self.router = router

    @activity.defn(name=QUEUE_PART)
    async def queue_part(self, part: DigestPart) -> PartQueued:
        """Start the contact's digest with the part, or add it to the running one; the part id
        makes a retry a no-op."""
        event = Event(
            message_id=f"part-{part.part_id}",
            name=DIGEST_PART,
            timestamp=part.at,
            properties=part.model_dump(mode="json", exclude={"contact_id", "part_id", "at"}),
        )
        routed = await self.router.route(part.contact_id, event)
        return PartQueued(started="digest" in getattr(routed, "started", []))
