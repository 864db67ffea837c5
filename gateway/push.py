"""Web push subscriptions and per-channel consent, sent by the app with its write key.

- ``GET /v1/push/vapid-public-key``: the application server key the browser subscribes with
  (``pushManager.subscribe({applicationServerKey})``); public, no key needed.
- ``POST /v1/push/subscriptions``: ``{"userId", "subscription": PushSubscription.toJSON()}``
  stores a browser's subscription for that contact; ``DELETE`` with ``{"userId", "endpoint"}``
  removes it (the browser unsubscribed). A send reaches each subscription; one the push service
  reports gone is removed by the worker.
- ``POST /v1/consent``: ``{"userId", "channel": "sms", "topic", "subscribed", "wordingVersion"}``
  records an opt-in (or out) per topic and channel in the consent ledger, with the request's
  IP and user agent as proof (source ``api``). SMS marketing needs such a grant.

No string of these bodies may hold U+0000, which PostgreSQL cannot store (it was a 500 there):
refused with a 422 naming the field (``subscription.endpoint``), on both backends, as the
ingestion calls refuse it; the OpenAPI document says so (``pattern``). The same check refuses
the rest the store cannot hold (``store/storable.py``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import Field, StrictBool
from pydantic.json_schema import JsonDict

from activities.policy import MessagingPolicy
from gateway.auth import KeyRing, require_key
from gateway.errors import ApiError
from gateway.models import NO_NUL, ErrorBody, Storable
from gateway.openapi import REFUSALS, SECURITY
from gateway.unsubscribe import client_proof
from store import Store
from store._sql import now
from store.consent import GRANTED, WITHDRAWN, ConsentEntry
from store.push_subscriptions import PushSubscription

# For the document only: the models refuse a NUL (and what else the store cannot hold)
# themselves, naming the field (Storable).
_NO_NUL: JsonDict = {"pattern": NO_NUL}
_URL = r"^https?://"


class PushKeys(Storable):
    """The browser's keys (base64url)."""

    p256dh: str = Field(min_length=20, max_length=255, json_schema_extra=_NO_NUL)
    auth: str = Field(min_length=8, max_length=64, json_schema_extra=_NO_NUL)


class BrowserSubscription(Storable):
    """``PushSubscription.toJSON()``."""

    endpoint: str = Field(
        pattern=_URL, max_length=2048, json_schema_extra={"pattern": _URL + r"[^\u0000]*$"}
    )
    keys: PushKeys


class Subscribe(Storable):
    """A contact's new browser subscription."""

    userId: str = Field(min_length=1, max_length=255, json_schema_extra=_NO_NUL)
    subscription: BrowserSubscription


class Unsubscribe(Storable):
    """A subscription the browser dropped."""

    userId: str = Field(min_length=1, max_length=255, json_schema_extra=_NO_NUL)
    endpoint: str = Field(max_length=2048, json_schema_extra=_NO_NUL)


class ChannelConsent(Storable):
    """An opt-in or opt-out on one channel and topic."""

    userId: str = Field(min_length=1, max_length=255, json_schema_extra=_NO_NUL)
    channel: Literal["email", "sms", "push", "audience"]
    topic: str = Field(min_length=1, max_length=64, json_schema_extra=_NO_NUL)
    subscribed: StrictBool
    wordingVersion: Annotated[str, Field(max_length=64, json_schema_extra=_NO_NUL)] | None = None


def _write_keys(request: Request) -> KeyRing:
    ring: KeyRing = request.app.state.write_keys
    return ring


KEYED: dict[int | str, dict[str, Any]] = {
    400: REFUSALS[400],
    401: REFUSALS[401],
    422: {"model": ErrorBody, "description": "A field is missing or invalid; `field` names it."},
}
SECURED = {"security": SECURITY}
WriteKey = Annotated[str, Depends(require_key(_write_keys, what="write key"))]


def make_push_router(policy: MessagingPolicy, vapid_public_key: str | None) -> APIRouter:
    """The push and channel-consent routes; the store comes from ``app.state.store``."""
    router = APIRouter(tags=["channels"])

    @router.get(
        "/v1/push/vapid-public-key",
        summary="The VAPID key browsers subscribe with",
        responses={404: {"model": ErrorBody, "description": "No VAPID key is configured."}},
    )
    async def vapid_key() -> JSONResponse:
        if not vapid_public_key:
            raise ApiError(404, "not_configured", None, "SOJOURN_VAPID_PUBLIC_KEY is not set")
        return JSONResponse({"publicKey": vapid_public_key})

    @router.post(
        "/v1/push/subscriptions",
        status_code=201,
        summary="Store a push subscription",
        responses=KEYED,
        openapi_extra=SECURED,
    )
    async def subscribe(body: Subscribe, request: Request, _key: WriteKey) -> JSONResponse:
        store: Store = request.app.state.store
        await store.push.add(
            PushSubscription(
                contact_id=body.userId,
                endpoint=body.subscription.endpoint,
                p256dh=body.subscription.keys.p256dh,
                auth=body.subscription.keys.auth,
                user_agent=client_proof(request)["user_agent"],
                created_at=now(),
            )
        )
        return JSONResponse({"status": "subscribed"}, status_code=201)

    @router.delete(
        "/v1/push/subscriptions",
        summary="Remove a push subscription",
        responses=KEYED,
        openapi_extra=SECURED,
    )
    async def unsubscribe(body: Unsubscribe, request: Request, _key: WriteKey) -> JSONResponse:
        store: Store = request.app.state.store
        removed = await store.push.remove(body.endpoint, body.userId)
        return JSONResponse({"status": "removed" if removed else "unknown"})

    @router.post(
        "/v1/consent",
        summary="Record consent per topic and channel",
        responses=KEYED,
        openapi_extra=SECURED,
    )
    async def consent(body: ChannelConsent, request: Request, _key: WriteKey) -> JSONResponse:
        store: Store = request.app.state.store
        ledger_id = await store.consent.record(
            ConsentEntry(
                contact_id=body.userId,
                topic=body.topic,
                channel=body.channel,
                status=GRANTED if body.subscribed else WITHDRAWN,
                source="api",
                at=now(),
                wording_version=body.wordingVersion,
                **client_proof(request),
            )
        )
        return JSONResponse({"status": "recorded", "ledger_id": ledger_id})

    return router
