"""The real stack for privacy tests: a Temporal dev server, the worker and the gateway app, all
with Sojourn's encrypting data converter, and a provider that records (or keeps failing)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.providers import ProviderError
from activities.providers.base import Commit, no_commit
from gateway.app import create_app
from store import Store
from store.keys import KeyRing
from store.records import MessageRecord
from tests.conftest import binary
from tests.ports import free_port
from worker.registry import WORKFLOWS, Activities, make_router
from worker.settings import DEV_WRITE_KEY, Settings
from worker.temporal import data_converter, key_ring
from workflows import search

# The write key test settings accept, as a default header: admin calls send their own.
WRITE_AUTH = {"Authorization": "Basic " + base64.b64encode(f"{DEV_WRITE_KEY}:".encode()).decode()}

ADMIN_KEY = "admin-" + "k" * 40


@dataclass
class Recorder:
    """A provider that records what it sends; addresses starting ``retry`` fail (retryable)."""

    name: str = "recorder"
    idempotent: bool = False
    resend_unknown: bool = False
    sent: list[MessageRecord] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)

    async def send(self, message: MessageRecord, commit: Commit = no_commit) -> str:
        self.attempts[message.contact_id] = self.attempts.get(message.contact_id, 0) + 1
        if (message.to_address or "").startswith("retry"):
            raise ProviderError("503 from the provider", retryable=True)
        await commit()
        self.sent.append(message)
        return uuid.uuid4().hex

    async def lookup(self, message: MessageRecord) -> bool | None:
        return any(m.message_id == message.message_id for m in self.sent)

    def count(self, contact_id: str) -> int:
        """Messages that reached the provider for ``contact_id`` (sent or attempted)."""
        return self.attempts.get(contact_id, 0)


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """One Temporal dev server per module (its own client is not used: it has no codec)."""
    env = await WorkflowEnvironment.start_local(
        port=free_port(),
        dev_server_existing_path=binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(search.ALL),
        ui=False,
    )
    yield env
    await env.shutdown()


@dataclass
class Stack:
    """What a privacy test drives."""

    settings: Settings
    store: Store
    client: Client
    keys: KeyRing
    provider: Recorder
    http: httpx.AsyncClient

    def admin(self) -> dict[str, Any]:
        """Headers with the admin key (HTTP Basic, key as user name)."""
        return {"Authorization": "Bearer " + ADMIN_KEY}


@pytest.fixture
async def stack(
    dev_server: WorkflowEnvironment, settings: Settings, store: Store
) -> AsyncIterator[Stack]:
    """Worker and gateway on the test's store and task queue, quiet hours on."""
    settings = settings.model_copy(
        update={"admin_keys": [ADMIN_KEY], "quiet_hours": True, "relay_interval_seconds": 0.05}
    )
    keys = key_ring(settings, store.engine)
    client = Client(
        dev_server.client.service_client,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings, keys),
    )
    provider = Recorder()
    router = make_router(client, settings, store)
    activities = Activities.build(store=store, router=router, settings=settings, provider=provider)

    async def router_factory() -> Any:
        return router

    app = create_app(settings, store=store, router_factory=router_factory)
    app.state.temporal = client
    app.state.key_ring = keys
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=activities.all(),
    )
    async with (
        worker,
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://gateway", headers=WRITE_AUTH
        ) as http,
    ):
        yield Stack(settings, store, client, keys, provider, http)
