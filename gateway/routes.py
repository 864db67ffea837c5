"""The HTTP endpoints: Segment's calls (``/v1/*``), each behind a write key, and a health check.

Order of work for every ingestion call, cheapest refusal first: the key (401) and the rate
limit (429), the body within its size limit (413/415/400), then validation (422) and storing
(``gateway.auth.authorised_body``). Nothing is stored before the key is known good.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Depends, Request, Response
from pydantic import TypeAdapter, ValidationError

from activities import metrics
from gateway import intake
from gateway.auth import authorised_body
from gateway.errors import ApiError, InvalidField, first_error
from gateway.intake import BATCH_MAX, CALL_MAX, Intake
from gateway.models import (
    Accepted,
    Alias,
    AnyCall,
    BatchAccepted,
    BatchEnvelope,
    BatchItem,
    Group,
    Health,
    Identify,
    Page,
    Refused,
    Screen,
    Track,
)
from gateway.openapi import ingestion_doc
from gateway.relay import Relay
from store import Store

log = structlog.get_logger(__name__)

router = APIRouter()
_ITEM = TypeAdapter(BatchItem)


def _store(request: Request) -> Store:
    return request.app.state.store


def _relay(request: Request) -> Relay:
    return request.app.state.relay


StoreDep = Annotated[Store, Depends(_store)]
RelayDep = Annotated[Relay, Depends(_relay)]


def _call(model: type[AnyCall], body: Any) -> AnyCall:
    if not isinstance(body, dict):
        raise InvalidField("body", "the body must be a JSON object")
    try:
        # The path says the type; a body that says another one is refused, not re-typed.
        return model.model_validate({"type": model.model_fields["type"].default, **body})
    except ValidationError as exc:
        raise InvalidField(*first_error(exc.errors())) from exc


async def _single(request: Request, model: type[AnyCall]) -> Accepted:
    body = await authorised_body(request, CALL_MAX, "a call")
    call = _call(model, body)
    intake.check(call)
    stored = await Intake(request.app.state.store, request.app.state.relevance).store_call(call)
    if stored.routable and stored.contact_id is not None:
        request.app.state.relay.kick([stored.contact_id])
    log.debug(
        f"{call.type} stored",
        contact_id=call.user_id,
        message_id=stored.accepted.message_id,
        duplicate=stored.accepted.duplicate,
    )
    return stored.accepted


def _single_route(model: type[AnyCall], summary: str) -> None:
    kind = model.model_fields["type"].default

    async def endpoint(request: Request) -> Accepted:
        return await _single(request, model)

    endpoint.__name__ = kind
    endpoint.__doc__ = summary
    router.add_api_route(
        f"/v1/{kind}",
        endpoint,
        methods=["POST"],
        response_model=Accepted,
        tags=["events"],
        **ingestion_doc(model.__name__),
    )


_single_route(Identify, "Merge traits into the user's profile (newer values win by event time).")
_single_route(Track, "Store an event; journeys receive it right after it is stored.")
_single_route(Page, "A page view, stored as a `Page Viewed` event.")
_single_route(Screen, "A mobile screen view, stored as a `Screen Viewed` event.")
_single_route(Group, "Put the user in a group (account): sets the `groupId` and `group` traits.")
_single_route(Alias, "Link `previousId` (e.g. an anonymous id) to `userId`, merging its history.")


def _item(raw: Any, index: int, top: dict[str, Any]) -> AnyCall | Refused:
    """One batch item validated and checked, or the reason it is refused."""
    message_id = raw.get("messageId") if isinstance(raw, dict) else None
    message_id = message_id if isinstance(message_id, str) else None
    if not isinstance(raw, dict):
        return Refused(index=index, field="", reason="a batch item must be a JSON object")
    if intake.json_size(raw) > CALL_MAX:
        return Refused(
            index=index,
            field="",
            reason=f"a call must be at most {CALL_MAX} bytes (32 KB, Segment's limit)",
            message_id=message_id,
        )
    for key in ("context", "integrations"):
        if isinstance(top.get(key), dict) and raw.get(key) is None:
            raw = {**raw, key: top[key]}
    try:
        call = _ITEM.validate_python(raw)
        intake.check(call)
    except ValidationError as exc:
        field, reason = first_error(exc.errors())
        return Refused(index=index, field=field, reason=reason, message_id=message_id)
    except InvalidField as exc:
        return Refused(index=index, field=exc.field, reason=exc.message, message_id=message_id)
    return call


def _envelope(body: dict[str, Any], request: Request) -> BatchEnvelope:
    """The batch's envelope; a ``sentAt`` that is not a time is ignored, not fatal.

    Without it the items' own timestamps are used as given (a future one is still replaced by
    the receive time), so valid items are never lost to a malformed envelope field.
    """
    try:
        return BatchEnvelope.model_validate(body)
    except ValidationError as exc:
        if {e["loc"][0] for e in exc.errors() if e["loc"]} != {"sentAt"}:
            raise InvalidField(*first_error(exc.errors())) from exc
    log.info(
        "batch sentAt ignored",
        status=200,
        path=request.url.path,
        field="sentAt",
        key_id=getattr(request.state, "key_id", None),
    )
    try:
        return BatchEnvelope.model_validate({k: v for k, v in body.items() if k != "sentAt"})
    except ValidationError as exc:
        raise InvalidField(*first_error(exc.errors())) from exc


async def _batch(request: Request, store: Store, relay: Relay) -> BatchAccepted:
    body = await authorised_body(request, BATCH_MAX, "a batch request")
    if not isinstance(body, dict):
        raise InvalidField("body", 'the body must be a JSON object with a "batch" array')
    envelope = _envelope(body, request)
    refused: list[Refused] = []
    calls: list[tuple[int, AnyCall]] = []
    for index, raw in enumerate(envelope.batch):
        item = _item(raw, index, body)
        if isinstance(item, Refused):
            refused.append(item)
        else:
            calls.append((index, item))
    received_at = datetime.now(UTC)  # Segment's receivedAt: one per request
    outcomes = await Intake(store, request.app.state.relevance).store_calls(
        [c for _, c in calls], envelope.sent_at, received_at
    )
    results: list[Accepted] = []
    routable: set[str] = set()
    for (index, call), outcome in zip(calls, outcomes, strict=True):
        if isinstance(outcome, InvalidField):
            refused.append(
                Refused(
                    index=index,
                    field=outcome.field,
                    reason=outcome.message,
                    message_id=call.message_id,
                )
            )
            continue
        results.append(outcome.accepted)
        if outcome.routable and outcome.contact_id is not None:
            routable.add(outcome.contact_id)
    refused.sort(key=lambda r: r.index)
    # Only the contacts that got something to route: no scan of the whole log per request.
    relay.kick(routable)
    for _ in refused:
        metrics.event_refused("invalid")
    if refused:
        # Once per request, ids and field names only (never the values).
        log.info(
            "batch items refused",
            status=200,  # the request's: its valid items were stored
            path=request.url.path,
            key_id=getattr(request.state, "key_id", None),
            refused=len(refused),
            stored=len(results),
            fields=sorted({r.field for r in refused})[:20],
        )
    return BatchAccepted(results=results, refused=refused)


BATCH_SUMMARY = (
    "Several calls at once. Valid items are stored even when others are not: the answer "
    "(200) lists each refused item with its index, field and reason."
)


@router.post(
    "/v1/batch",
    response_model=BatchAccepted,
    tags=["events"],
    summary="Batch",
    description=BATCH_SUMMARY,
    **ingestion_doc("BatchRequest"),
)
async def batch(request: Request, store: StoreDep, relay: RelayDep) -> BatchAccepted:
    """Several calls in one request."""
    return await _batch(request, store, relay)


@router.post(
    "/v1/import",
    response_model=BatchAccepted,
    tags=["events"],
    summary="Import (Segment's alias of batch)",
    description=BATCH_SUMMARY,
    **ingestion_doc("BatchRequest"),
)
async def import_(request: Request, store: StoreDep, relay: RelayDep) -> BatchAccepted:
    """The same as ``/v1/batch``."""
    return await _batch(request, store, relay)


@router.get(
    "/healthz",
    response_model=Health,
    tags=["ops"],
    responses={503: {"model": Health, "description": "The store cannot be reached."}},
)
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


__all__ = ["ApiError", "router"]
