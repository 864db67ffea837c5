"""Gateway fixtures: an app on the test's store with a fake router, and an HTTP client on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from structlog.testing import capture_logs

import gateway.app
import gateway.errors
import gateway.relay
import gateway.routes
from gateway.app import create_app
from gateway.relay import EventRouter
from store import Store
from worker.serve import gateway_server, serve_gateway, stop_gateway, wait_started
from worker.settings import DEV_WRITE_KEY, Settings
from workflows.models import Event

WAIT = 60.0  # seconds; generous because the machine is shared, only reached on a bug
# The write key test settings accept (no SOJOURN_WRITE_KEYS outside production), as SDKs send it.
AUTH = httpx.BasicAuth(DEV_WRITE_KEY, "")


class FakeRouter:
    """Counts routed events; fails the first ``failures`` calls with ``error``."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, Event]] = []
        self.attempts = 0
        self.failures = failures
        self.error = error or RuntimeError("router down")
        self.block: asyncio.Event | None = None

    async def route(self, contact_id: str, event: Event) -> None:
        self.attempts += 1
        if self.block is not None:
            await self.block.wait()
        if self.attempts <= self.failures:
            raise self.error
        self.calls.append((contact_id, event))

    @property
    def message_ids(self) -> list[str]:
        return [event.message_id for _, event in self.calls]

    def factory(self) -> Callable[[], Awaitable[EventRouter]]:
        async def make() -> EventRouter:
            return self

        return make


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = WAIT) -> None:
    """Poll ``check`` until it is true; fail (not hang) after ``timeout`` seconds."""

    async def loop() -> None:
        while not await check():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(loop(), timeout)


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    """Settings with a relay that polls and backs off in milliseconds."""
    return settings.model_copy(update={"relay_interval_seconds": 0.05})


@pytest.fixture
def fake_router() -> FakeRouter:
    """A router that records what it was asked to route."""
    return FakeRouter()


@pytest.fixture
def app(fast_settings: Settings, store: Store, fake_router: FakeRouter) -> FastAPI:
    """The gateway on the test's store, routing to ``fake_router``."""
    return create_app(fast_settings, store=store, router_factory=fake_router.factory())


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on ``app`` with its lifespan (store and relay) running."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://gateway", auth=AUTH
        ) as http,
    ):
        yield http


@asynccontextmanager
async def served(settings: Settings, app: Any = None) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` (the gateway of ``settings`` if None) on a real socket, served as ``sojourn
    gateway`` serves it (worker/serve.py), with a client on it; stopped the same way."""
    server = gateway_server(settings, app)
    task = asyncio.ensure_future(serve_gateway(server))
    try:
        if not await wait_started(server, task):
            await task  # it ended before listening: raise why
        async with httpx.AsyncClient(base_url=settings.public_gateway_url, auth=AUTH) as http:
            yield http
    finally:
        await stop_gateway(server, task)


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """What the gateway logs during the test, as event dicts."""
    with capture_logs() as entries:
        # Fresh loggers: a module logger cached under another test's configuration
        # (cache_logger_on_first_use) would bypass the capture.
        for module in (gateway.app, gateway.relay, gateway.errors, gateway.routes):
            monkeypatch.setattr(module, "log", structlog.get_logger(module.__name__))
        yield entries
