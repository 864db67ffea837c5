"""The one registry of journeys and activities: used by the worker, the router and the tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

import journeys.segments
from activities.audiences import AudienceActivities
from activities.catalog import CatalogActivities
from activities.channels.factory import make_channels
from activities.dates import DateActivities
from activities.experiments import ExperimentActivities
from activities.handover import HandoverActivities
from activities.hygiene import HygieneActivities
from activities.merging import MergeActivities
from activities.optin import OptInActivities
from activities.policy import MessagingPolicy
from activities.providers import Provider
from activities.providers import make_provider as build_provider
from activities.rendering import Renderer
from activities.segments import SegmentActivities
from activities.send_time import SendTimeActivities
from activities.sending import SendActivities
from activities.wakeups import WakeupActivities
from journeys.registry import ALL as JOURNEY_CLASSES
from store import Store
from worker.settings import Settings
from workflows.dates import DateEnrollment
from workflows.enrollment import SegmentEnrollment
from workflows.journey import Journey
from workflows.routing import Router
from workflows.wakeups import WakeupSweep

JOURNEYS: Sequence[type[Journey]] = JOURNEY_CLASSES
# Every workflow the worker runs: the journeys, the segment and date enrollments feeding them,
# and the segment wake-up sweep.
WORKFLOWS: Sequence[type] = (*JOURNEYS, SegmentEnrollment, DateEnrollment, WakeupSweep)


def unconfigured_audiences(settings: Settings) -> list[str]:
    """Ad audiences the journeys put contacts in (``audience_name``) that ``SOJOURN_AUDIENCES``
    does not configure: their steps go to the outbox in dev, and fail in production."""
    named = {getattr(journey, "audience_name", None) for journey in JOURNEYS}
    return sorted(n for n in named if isinstance(n, str) and n not in settings.audiences)


def make_provider(settings: Settings) -> Provider:
    """The email provider the settings choose."""
    return build_provider(settings)


def make_router(client: Client, settings: Settings, store: Store) -> Router:
    """A router over every registered journey, sharing ``store``'s journey presence."""
    return Router(
        client,
        JOURNEYS,
        settings.task_queue,
        keys=settings.contact_keys,
        time_scale=settings.dev_time_scale,
        presence=store.presence,
    )


@dataclass
class Activities:
    """Every activity, bound to its dependencies."""

    send: SendActivities
    handover: HandoverActivities
    segments: SegmentActivities
    optin: OptInActivities
    catalog: CatalogActivities
    hygiene: HygieneActivities
    merging: MergeActivities
    dates: DateActivities
    experiments: ExperimentActivities
    send_time: SendTimeActivities
    audiences: AudienceActivities
    wakeups: WakeupActivities | None = None

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
        renderer = renderer or Renderer(default_locale=settings.default_locale)
        policy = MessagingPolicy.from_settings(settings)
        return cls(
            send=SendActivities(
                store,
                renderer,
                provider or make_provider(settings),
                settings.mail_from,
                policy,
                make_channels(settings, store),
            ),
            handover=HandoverActivities(router),
            segments=SegmentActivities(store, journeys.segments.CATALOG, router),
            optin=OptInActivities(store, renderer, settings.mail_from, policy),
            catalog=CatalogActivities(store),
            hygiene=HygieneActivities(store, policy),
            merging=MergeActivities(router),
            dates=DateActivities(store, router, policy.default_timezone),
            experiments=ExperimentActivities(store, enabled=settings.experiments),
            send_time=SendTimeActivities(store, policy),
            audiences=AudienceActivities(
                store,
                settings.audiences,
                policy,
                default_region=settings.sms_default_region,
                # Unconfigured audiences go to the outbox in dev and test, fail in production.
                outbox=settings.outbox_path if settings.env != "production" else None,
            ),
            wakeups=WakeupActivities(store, journeys.segments.CATALOG, JOURNEYS, router),
        )

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for ``Worker(activities=...)``."""
        return [
            self.send.prepare_message,
            self.send.deliver_message,
            self.send.send_message,
            self.handover.start_journey,
            self.optin.prepare,
            self.hygiene.sunset_contact,
            self.merging.queue_part,
            self.dates.date_entry_page,
            self.experiments.assign_arm,
            self.send_time.best_send_time,
            self.audiences.sync_audience,
            *self.segments.all(),
            *self.catalog.all(),
            *(self.wakeups.all() if self.wakeups else []),
        ]
