"""Fixtures for journey tests: real activities on a SQLite store, time-skipping Temporal."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from journeys.registry import ALL
from store import Store
from store.records import MessageRecord
from tests.stopping import terminate_when_idle
from worker.registry import Activities
from worker.sandbox import WORKFLOW_RUNNER
from worker.settings import Settings
from workflows.journey import Journey
from workflows.models import Event, JourneyResult, JourneyState
from workflows.routing import Router
from workflows.search import DEV_KEYS


@dataclass
class Harness:
    """One journey test: a worker on its own task queue, a router, the store."""

    env: WorkflowEnvironment
    client: Client
    router: Router
    store: Store
    contact: str

    async def identify(
        self, first_name: str | None = "Ada", email: str = "ada@example.com"
    ) -> None:
        traits: dict[str, Any] = {"email": email}
        if first_name:
            traits["firstName"] = first_name
        await self.store.contacts.identify(self.contact, traits, datetime.now(UTC))

    async def event(self, name: str, message_id: str | None = None, **properties: Any) -> None:
        """Route an event the way the gateway's relay does."""
        await self.router.route(
            self.contact,
            Event(message_id=message_id or uuid.uuid4().hex, name=name, properties=properties),
        )

    def handle(self, journey: str) -> WorkflowHandle:
        return self.client.get_workflow_handle(
            DEV_KEYS.workflow_id(journey, self.contact), result_type=JourneyResult
        )

    async def state(self, journey: str = "welcome") -> JourneyState:
        return await self.handle(journey).query("state", result_type=JourneyState)

    async def until(
        self, check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30
    ) -> None:
        """Poll ``check`` in real time; fail naming ``what`` if it never holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await check():
            if loop.time() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)

    async def sent_templates(self) -> list[str]:
        messages = await self.store.messages.list(contact_id=self.contact, status="sent")
        return [m.template for m in sorted(messages, key=lambda m: m.created_at)]

    async def messages(self) -> list[MessageRecord]:
        return sorted(
            await self.store.messages.list(contact_id=self.contact), key=lambda m: m.created_at
        )

    async def skip(self, duration: timedelta) -> None:
        """Let ``duration`` of workflow time pass (in milliseconds of real time)."""
        await self.env.sleep(duration)

    async def closed(self, journey: str = "welcome") -> bool:
        desc = await self.handle(journey).describe()
        return desc.status is not None and desc.status.name != "RUNNING"

    async def running(self, journey: str) -> bool:
        try:
            desc = await self.handle(journey).describe()
        except RPCError as exc:
            # Not started (yet): not running. Any other error is the test's to see.
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return desc.status is not None and desc.status.name == "RUNNING"


@pytest.fixture
def make_harness(
    time_env: WorkflowEnvironment, store: Store, settings: Settings, task_queue: str
) -> Callable[..., AbstractAsyncContextManager[Harness]]:
    """Run a worker for ``journeys`` (default: the registry) with the real activities,
    or with ``activities`` when a test needs same-name fakes."""

    @asynccontextmanager
    async def build(
        journeys: Sequence[type[Journey]] = ALL, activities: list[Any] | None = None
    ) -> AsyncIterator[Harness]:
        # With the store's presence table, as the gateway and the worker route.
        router = Router(time_env.client, journeys, task_queue, presence=store.presence)
        if activities is None:
            activities = Activities.build(store=store, router=router, settings=settings).all()
        async with Worker(
            time_env.client,
            task_queue=task_queue,
            workflows=list(journeys),
            activities=activities,
            workflow_runner=WORKFLOW_RUNNER,
        ):
            h = Harness(
                env=time_env,
                client=time_env.client,
                router=router,
                store=store,
                contact=f"c-{uuid.uuid4().hex[:8]}",
            )
            try:
                yield h
            finally:
                # The test server stops skipping time while any workflow has work pending, so
                # journeys a test leaves running (hand-overs) must not outlive its worker.
                for journey in journeys:
                    await terminate_when_idle(h.handle(journey.spec.name))

    return build


@pytest.fixture
async def harness(
    make_harness: Callable[..., AbstractAsyncContextManager[Harness]],
) -> AsyncIterator[Harness]:
    """The registry's journeys with real activities, and an identified contact."""
    async with make_harness() as h:
        await h.identify()
        yield h
