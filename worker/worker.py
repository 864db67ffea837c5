"""The Temporal worker: every journey and activity from the registry, on one task queue."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from store import Store
from worker.metrics import SendMetrics
from worker.registry import WORKFLOWS, Activities, make_router
from worker.sandbox import WORKFLOW_RUNNER
from worker.settings import Settings

HEARTBEAT_THROTTLE = timedelta(seconds=1)


def build_worker(client: Client, store: Store, settings: Settings) -> Worker:
    """A worker for ``settings.task_queue`` with all journeys and activities registered."""
    activities = Activities.build(
        store=store, router=make_router(client, settings, store), settings=settings
    )
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        workflow_runner=WORKFLOW_RUNNER,
        activities=activities.all(),
        interceptors=[SendMetrics(store)],
        # On SIGTERM the worker stops polling and lets running sends finish this long.
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_seconds),
        # A slow provider call heartbeats at most once a second, so an exit (unsubscribe,
        # erasure, goal) reaches it within about a second.
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
    )
