"""The one registry of journeys and activities: used by the worker, the router and the tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

import journeys
from activities.handover import HandoverActivities
from activities.providers import OutboxProvider, Provider
from activities.rendering import Renderer
from activities.sending import SendActivities
from store import Store
from worker.settings import Settings
from workflows.journey import Journey
from workflows.routing import Router

JOURNEYS: Sequence[type[Journey]] = journeys.ALL


def make_provider(settings: Settings) -> Provider:
    """The email provider the settings choose."""
    return OutboxProvider(settings.outbox_path)


def make_router(client: Client, settings: Settings) -> Router:
    """A router over every registered journey."""
    return Router(client, JOURNEYS, settings.task_queue)


@dataclass
class Activities:
    """Every activity, bound to its dependencies."""

    send: SendActivities
    handover: HandoverActivities

    @classmethod
    def build(
        cls,
        *,
        store: Store,
        router: Router,
        settings: Settings,
        provider: Provider | None = None,
        renderer: Renderer | None = None,
    ) -> Activities:
        """Wire the activities once, as the worker does."""
        return cls(
            send=SendActivities(
                store,
                renderer or Renderer(),
                provider or make_provider(settings),
                settings.mail_from,
            ),
            handover=HandoverActivities(router),
        )

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for ``Worker(activities=...)``."""
        return [self.send.prepare_message, self.send.deliver_message, self.handover.start_journey]
