"""The HTTP endpoints: Segment's ``identify``, ``track`` and ``batch``, and a health check."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Depends, Request, Response

from gateway import intake
from gateway.models import (
    Accepted,
    BatchAccepted,
    BatchRequest,
    ErrorBody,
    Health,
    IdentifyItem,
    IdentifyRequest,
    TrackRequest,
)
from gateway.relay import Relay
from store import Store

log = structlog.get_logger(__name__)

REFUSED = {
    400: {"model": ErrorBody, "description": "The body is not JSON."},
    422: {"model": ErrorBody, "description": "A field is missing or invalid; `field` names it."},
}

router = APIRouter()


def _store(request: Request) -> Store:
    return request.app.state.store


def _relay(request: Request) -> Relay:
    return request.app.state.relay


StoreDep = Annotated[Store, Depends(_store)]
RelayDep = Annotated[Relay, Depends(_relay)]


@router.post("/v1/identify", response_model=Accepted, responses=REFUSED, tags=["events"])
async def identify(call: IdentifyRequest, store: StoreDep) -> Accepted:
    """Merge traits into the user's profile (newer values win by event time)."""
    intake.check(call)
    accepted = await intake.identify(store, call)
    log.debug("identify stored", contact_id=call.user_id, message_id=accepted.message_id)
    return accepted


@router.post("/v1/track", response_model=Accepted, responses=REFUSED, tags=["events"])
async def track(call: TrackRequest, store: StoreDep, relay: RelayDep) -> Accepted:
    """Store an event; journeys receive it right after the answer (or once Temporal is up)."""
    intake.check(call)
    accepted = await intake.track(store, call)
    if not accepted.duplicate:
        relay.kick()
    log.debug(
        "track stored",
        contact_id=call.user_id,
        message_id=accepted.message_id,
        duplicate=accepted.duplicate,
    )
    return accepted


@router.post("/v1/batch", response_model=BatchAccepted, responses=REFUSED, tags=["events"])
async def batch(call: BatchRequest, store: StoreDep, relay: RelayDep) -> BatchAccepted:
    """Several calls in one request; if any is invalid the whole batch is refused unstored."""
    for index, item in enumerate(call.batch):
        intake.check(item, prefix=f"batch.{index}.")
    results: list[Accepted] = []
    tracked = False
    for item in call.batch:
        if isinstance(item, IdentifyItem):
            results.append(await intake.identify(store, item))
        else:
            results.append(accepted := await intake.track(store, item))
            tracked = tracked or not accepted.duplicate
    if tracked:
        relay.kick()
    log.debug("batch stored", size=len(results))
    return BatchAccepted(results=results)


@router.get("/healthz", response_model=Health, tags=["ops"])
async def healthz(response: Response, store: StoreDep, relay: RelayDep) -> Health:
    """200 while events can be stored (Temporal being down does not count: events wait)."""
    health = Health(relay_failures=relay.failures)
    if relay.failures:
        health.temporal = "unreachable"
    elif relay.connected:
        health.temporal = "connected"
    try:
        async with store.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any driver error means the same to a load balancer
        log.warning("health check: store unreachable", error=type(exc).__name__)
        health.store, health.status = "unreachable", "degraded"
        response.status_code = 503
    return health
