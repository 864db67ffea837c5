"""Twilio's webhooks: inbound SMS keywords and delivery statuses (``X-Twilio-Signature`` checked).

- ``POST /webhooks/twilio/inbound``: a reply to our number. STOP (STOPALL, UNSUBSCRIBE, CANCEL,
  END, QUIT, ARRET) withdraws every SMS topic in the consent ledger (source ``sms_keyword``)
  and sends an ``Unsubscribed`` event with ``channel: sms``, which ends the contact's journeys
  that send SMS, as an email unsubscribe ends the email ones; START (UNSTOP, YES) restores the
  SMS topics granted before. Other texts are not stored (they may hold anything).
- ``POST /webhooks/twilio/status``: the ``StatusCallback`` of each SMS we sent. ``delivered``
  becomes ``SMS Delivered``, ``undelivered``/``failed`` ``SMS Failed`` (with Twilio's error
  code); a number that does not exist or is a landline (30005, 30006) is suppressed.

Signature: base64 HMAC-SHA1, under the auth token, of the URL Twilio called followed by every
POST parameter as name + value, sorted by name. The URL is ``SOJOURN_PUBLIC_URL`` + the path,
which is what Twilio must be configured with.

A status callback whose ``MessageSid`` or ``ErrorCode`` holds U+0000 (which PostgreSQL cannot
store nor look up: it was a 500) is answered 204 like any status we ignore, logged once without
the value: Twilio retries only when the URL asks it to (``#rc=``) and reports any non-2xx as an
error of ours, and the same bytes could never succeed. Inbound texts need no such check: the
body is not stored, and ``From`` is read as a phone number (a NUL in it is dropped as any
punctuation is).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from activities.channels.phones import maybe_e164
from activities.engagement import Engagement, attribution
from activities.policy import MessagingPolicy
from store import Store
from store._sql import now
from store.channel_lookups import contact_for_phone, message_by_provider_id
from store.consent import ALL_TOPICS, GRANTED, WITHDRAWN, ConsentEntry
from store.storable import unstorable_field
from store.suppression import HARD_BOUNCE, Suppression, SuppressionRepo

log = structlog.get_logger(__name__)

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ARRET"}
START_WORDS = {"START", "UNSTOP", "YES"}
STATUS_EVENTS = {"delivered": "SMS Delivered", "undelivered": "SMS Failed", "failed": "SMS Failed"}
# Twilio's error codes for a number that cannot ever receive SMS.
DEAD_NUMBER = {"30005", "30006"}
FORBIDDEN = {
    "description": "Missing or wrong X-Twilio-Signature (or no auth token configured).",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The ``X-Twilio-Signature`` Twilio computes for a POST of ``params`` to ``url``."""
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    mac = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def _unusable(used: dict[str, Any]) -> bool:
    """Whether a parameter the callback would look up or store holds U+0000 (logged once,
    with the parameter's name and never its value); see the module's docstring for why it is
    then answered 204 and ignored."""
    found = unstorable_field(used)
    if found is None:
        return False
    field, reason = found
    log.warning("webhook event ignored", provider="twilio", field=field, reason=reason)
    return True


def keyword(body: str) -> str:
    """The first word, upper-cased, accents dropped (``Arrêt`` → ``ARRET``)."""
    words = body.strip().split()
    first = words[0] if words else ""
    plain = unicodedata.normalize("NFKD", first).encode("ascii", "ignore").decode()
    return plain.upper().strip(".!")


def make_twilio_router(
    policy: MessagingPolicy,
    *,
    auth_token: str | None,
    public_url: str,
    verify: bool = True,
    default_region: str = "FR",
) -> APIRouter:
    """Twilio's two webhooks; the store comes from ``app.state.store``."""
    router = APIRouter(tags=["webhooks"])
    base = public_url.rstrip("/")

    async def signed_form(request: Request) -> dict[str, str] | None:
        params = {k: str(v) for k, v in (await request.form()).items()}
        if not verify:
            return params
        if not auth_token:
            return None  # no token configured: nobody can prove to be Twilio
        url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        expected = twilio_signature(auth_token, url, params)
        given = request.headers.get("x-twilio-signature", "")
        # As bytes: compare_digest raises TypeError for a str with non-ASCII characters, and a
        # header's bytes beyond ASCII (read as Latin-1) were a 500 for any caller, unsigned.
        return params if hmac.compare_digest(expected.encode(), given.encode()) else None

    def forbidden() -> JSONResponse:
        return JSONResponse({"error": "invalid X-Twilio-Signature"}, status_code=403)

    def routed(request: Request, contact_id: str) -> None:
        # Route at once (the relay catches up anyway, e.g. while Temporal is down).
        relay = getattr(request.app.state, "relay", None)
        if relay is not None:
            relay.kick([contact_id])

    @router.post(
        "/webhooks/twilio/inbound",
        summary="Twilio inbound SMS (STOP/START)",
        responses={
            200: {
                "description": "Empty TwiML (Twilio sends no reply of ours).",
                "content": {"text/xml": {"schema": {"type": "string"}}},
            },
            403: FORBIDDEN,
        },
    )
    async def inbound(request: Request) -> Response:
        params = await signed_form(request)
        if params is None:
            return forbidden()
        store: Store = request.app.state.store
        word = keyword(params.get("Body", ""))
        number = maybe_e164(params.get("From"), default_region)
        contact_id = await contact_for_phone(store.engine, number) if number else None
        if contact_id and (word in STOP_WORDS or word in START_WORDS):
            stop = word in STOP_WORDS
            changed = await _set_sms_consent(store, policy, contact_id, granted=not stop)
            if changed:
                routed(request, contact_id)
            log.info("sms keyword", contact_id=contact_id, keyword=word, changed=changed)
        return Response(EMPTY_TWIML, media_type="text/xml")

    @router.post(
        "/webhooks/twilio/status",
        summary="Twilio SMS status callback",
        status_code=204,
        responses={204: {"description": "Taken (or ignored)."}, 403: FORBIDDEN},
    )
    async def status(request: Request) -> Response:
        params = await signed_form(request)
        if params is None:
            return forbidden()
        store: Store = request.app.state.store
        name = STATUS_EVENTS.get(params.get("MessageStatus", ""))
        sid = params.get("MessageSid", "")
        if name and _unusable({"MessageSid": sid, "ErrorCode": params.get("ErrorCode")}):
            return Response(status_code=204)
        message = await message_by_provider_id(store.engine, "twilio", sid) if name else None
        if message is None or name is None:
            return Response(status_code=204)
        code = params.get("ErrorCode") or None
        properties = {
            **attribution(message),
            "channel": "sms",
            "sms_status": params["MessageStatus"],
        }
        if code:
            properties["error_code"] = code
        engagement = Engagement(store, policy)
        stored = await engagement.event(
            message.contact_id, name, properties, event_id=f"twilio-{sid}-{params['MessageStatus']}"
        )
        if code in DEAD_NUMBER and message.to_address:
            await SuppressionRepo(store.engine).add(
                Suppression(
                    address=message.to_address,
                    reason=HARD_BOUNCE,
                    source="twilio",
                    at=now(),
                    message_id=message.message_id,
                )
            )
        if stored:
            routed(request, message.contact_id)
        return Response(status_code=204)

    return router


async def _set_sms_consent(
    store: Store, policy: MessagingPolicy, contact_id: str, *, granted: bool
) -> bool:
    """STOP or START on every SMS topic; False when it changes nothing (a repeated keyword)."""
    state = (await store.consent.state(contact_id, "sms")).get(ALL_TOPICS)
    current = state[0] if state else None
    wanted = GRANTED if granted else WITHDRAWN
    if current == wanted or (granted and current is None):
        return False
    ledger_id = await store.consent.record(
        ConsentEntry(
            contact_id=contact_id,
            topic=ALL_TOPICS,
            channel="sms",
            status=wanted,
            source="sms_keyword",
            at=now(),
        )
    )
    if not granted:
        # Ends the journeys that send SMS (workflows/journey.py, on_event).
        properties = {"topic": ALL_TOPICS, "channel": "sms", "source": "sms_keyword"}
        await Engagement(store, policy).event(
            contact_id, "Unsubscribed", properties, event_id=f"consent-{ledger_id}"
        )
    return True
