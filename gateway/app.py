"""The gateway application: FastAPI app factory and its lifespan (store and relay).

``sojourn gateway`` and ``sojourn dev`` serve it with :func:`worker.serve.gateway_server`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from gateway import catalog, errors, metrics, routes
from gateway.admin import include_admin_routes
from gateway.auth import KeyRing
from gateway.channels import include_channel_routes
from gateway.live_segments import live_segments
from gateway.messaging import include_messaging_routes
from gateway.openapi import install_docs
from gateway.ratelimit import RateLimiter
from gateway.relay import EventRouter, Relay, RouterFactory
from gateway.relevance import Relevance
from journeys.segments import CATALOG
from store import Store
from worker.registry import JOURNEYS, make_router
from worker.settings import Settings
from worker.temporal import connect, key_ring

log = structlog.get_logger(__name__)


def default_router_factory(settings: Settings, store: Store) -> RouterFactory:
    """Connect to Temporal as ``settings`` say and route over every registered journey."""

    async def factory() -> EventRouter:
        # The codec's data keys on the store's pool: a key ring on an engine of its own
        # opened a SQLite connection (and parsed the schema) for each contact's first journey,
        # a quarter of the gateway's loop in a burst of sign-ups.
        client = await connect(settings, keys=key_ring(settings, store.engine))
        return make_router(client, settings, store)

    return factory


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    router_factory: RouterFactory | None = None,
    relevance: Relevance | None = None,
) -> FastAPI:
    """The gateway as an ASGI app.

    Args:
        settings: Sojourn settings (database URL, Temporal address, relay interval).
        store: a store to use; when None the lifespan opens (and migrates, and closes) one
            from ``settings.database_url``.
        router_factory: builds the router the relay uses; by default it connects to
            Temporal with :func:`worker.temporal.connect`. Called lazily and retried, so the
            app starts and accepts events while Temporal is down.
        relevance: which events the relay routes (``gateway/relevance.py``); by default what
            the registered journeys listen to and the segment catalog reads.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None
        active = store if store is not None else Store.from_url(settings.database_url)
        try:
            if own_store:
                await active.migrate()
            relay = Relay(
                active,
                live_segments(
                    router_factory or default_router_factory(settings, active), active, CATALOG
                ),
                interval=settings.relay_interval_seconds,
                concurrency=settings.relay_concurrency,
            )
            app.state.store = active
            app.state.relay = relay
            relay.start()
            log.info("gateway started", temporal=settings.target)
            try:
                yield
            finally:
                await relay.stop()
                log.info("gateway stopped", routed=relay.routed)
        finally:
            if own_store:
                await active.close()

    app = FastAPI(
        title="Sojourn gateway",
        summary="Segment-compatible event intake for Sojourn journeys.",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # served offline by install_docs
        redoc_url=None,
    )
    app.state.relevance = relevance or Relevance.of(JOURNEYS, CATALOG)
    app.state.write_keys = KeyRing(settings.accepted_write_keys)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    errors.install(app)
    install_docs(app)
    app.include_router(routes.router)
    app.include_router(catalog.router)
    app.include_router(metrics.router)
    include_messaging_routes(app, settings)
    include_channel_routes(app, settings)
    include_admin_routes(app, settings)
    return app
