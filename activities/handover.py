"""The hand-over activity: a journey starts another journey for the same contact."""

from __future__ import annotations

from typing import Protocol

from temporalio import activity

from activities.models import START_JOURNEY, JourneyStarted, StartJourney


class Starter(Protocol):
    """Anything that starts a journey by name (the router, in production)."""

    async def start(
        self, name: str, contact_id: str, time_scale: float | None = None
    ) -> tuple[str, bool]: ...


class HandoverActivities:
    """Starts journeys as new top-level workflows, so they outlive the journey that asked."""

    def __init__(self, starter: Starter) -> None:
        self.starter = starter

    @activity.defn(name=START_JOURNEY)
    async def start_journey(self, request: StartJourney) -> JourneyStarted:
        """Start ``request.journey`` for the contact, honouring its re-entry policy."""
        workflow_id, started = await self.starter.start(
            request.journey, request.contact_id, time_scale=request.time_scale
        )
        return JourneyStarted(workflow_id=workflow_id, started=started)
