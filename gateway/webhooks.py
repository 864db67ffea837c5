"""Provider webhooks → Sojourn events, suppressions and consent.

- ``POST /webhooks/postmark``: Postmark signs nothing; it sends HTTP Basic credentials that
  you put in the webhook URL. They are checked against ``postmark_webhook_username/password``.
  The credentials are compared as bytes, in constant time.
- ``POST /webhooks/sendgrid``: SendGrid's Signed Event Webhook, an ECDSA (P-256, SHA-256)
  signature over ``timestamp + body``, checked with ``sendgrid_webhook_public_key``; a
  timestamp more than ``FRESH_FOR`` away from now is refused, so a captured call cannot be
  replayed later.
- ``POST /webhooks/mailgun``: Mailgun's webhooks, signed in the body: HMAC-SHA256 of
  ``timestamp + token`` under ``mailgun_webhook_signing_key``. The timestamp must be fresh and
  each token works once (``store/webhook_tokens.py``), because the signature does not cover
  the events it comes with.

Events are attributed by the ids the providers echo back (Postmark ``Metadata``, SendGrid
``custom_args``, Mailgun ``user-variables``): ``email_id``, journey, step. Hard bounces and
spam complaints suppress the address; a provider-side unsubscribe withdraws the message's topic.

An event whose values we would look up or store hold U+0000 (which PostgreSQL cannot store,
nor compare against: it was a 500), a lone surrogate, NaN or Infinity, or nesting past
``store.storable.DEPTH_MAX`` (each a 500 too, see ``store/storable.py``) is answered 2xx and
ignored, logged once with the provider and the field, never the value (:func:`_unusable`);
see there why not a 4xx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from activities.engagement import Engagement, attribution
from activities.policy import MessagingPolicy
from gateway.relay import kick_relay
from store.storable import unstorable_field
from store.suppression import HARD_BOUNCE, SPAM_COMPLAINT
from store.webhook_tokens import WebhookTokens

log = structlog.get_logger(__name__)

# How far a signed webhook's timestamp may be from our clock (either way: clocks drift).
FRESH_FOR = timedelta(minutes=5)
# The event log's id column; a provider's ids (any JSON it sends) may make a longer one.
EVENT_ID_MAX = 255

POSTMARK = {
    "Delivery": "Email Delivered",
    "Open": "Email Opened",
    "Click": "Email Link Clicked",
    "Bounce": "Email Bounced",
    "SpamComplaint": "Email Marked as Spam",
    "SubscriptionChange": "Unsubscribed",
}
SENDGRID = {
    "delivered": "Email Delivered",
    "open": "Email Opened",
    "click": "Email Link Clicked",
    "bounce": "Email Bounced",
    "dropped": "Email Bounced",
    "spamreport": "Email Marked as Spam",
    "unsubscribe": "Unsubscribed",
    "group_unsubscribe": "Unsubscribed",
}
# Mailgun's ``failed`` is a bounce only with ``severity: permanent``; temporary ones are retried.
MAILGUN = {
    "delivered": "Email Delivered",
    "opened": "Email Opened",
    "clicked": "Email Link Clicked",
    "failed": "Email Bounced",
    "complained": "Email Marked as Spam",
    "unsubscribed": "Unsubscribed",
}


def _public_key(value: str) -> ec.EllipticCurvePublicKey:
    if "BEGIN PUBLIC KEY" in value:
        key = load_pem_public_key(value.encode())
    else:
        key = load_der_public_key(base64.b64decode(value))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def sendgrid_signature_ok(public_key: str, signature: str, timestamp: str, body: bytes) -> bool:
    """Verify SendGrid's ``X-Twilio-Email-Event-Webhook-Signature`` over timestamp + body."""
    try:
        _public_key(public_key).verify(
            base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def fresh(timestamp: str | int | float, now: float) -> bool:
    """True when a provider's signing time (seconds since 1970) is within ``FRESH_FOR``."""
    try:
        signed_at = float(timestamp)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int past any float
        return False
    return abs(now - signed_at) <= FRESH_FOR.total_seconds()


def mailgun_signature_ok(signing_key: str, signature: Any) -> bool:
    """Verify Mailgun's ``signature`` object: hex HMAC-SHA256 of timestamp + token."""
    if not isinstance(signature, dict):
        return False
    timestamp, token, given = (signature.get(k) for k in ("timestamp", "token", "signature"))
    if not all(isinstance(v, str | int) for v in (timestamp, token, given)):
        return False
    try:
        signed, presented = f"{timestamp}{token}".encode(), str(given).encode()
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800" is valid JSON) is not text Mailgun signed: checked before
        # the signature, it was a 500 for any caller.
        return False
    expected = hmac.new(signing_key.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), presented)


def _basic_ok(request: Request, username: str, password: str) -> bool:
    # Bytes on both sides: compare_digest refuses non-ASCII str, and a header is not ours to trust.
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        given = base64.b64decode(header[6:], validate=True)
    except ValueError:
        return False
    return hmac.compare_digest(given, f"{username}:{password}".encode())


async def _apply(
    engagement: Engagement,
    message_id: Any,
    name: str,
    extra: dict[str, Any],
    event_id: str,
    *,
    hard_bounce: bool = False,
    kick: Callable[[str], None] = lambda _contact_id: None,
) -> bool:
    """Record one provider event about one of our messages; False when it is not ours.

    ``kick`` gets the contact once its event is stored, so the relay routes it at once.
    """
    store = engagement.store
    # Only a string can be one of our message ids: a number, object or list (any JSON the
    # provider echoes) was a 500 in the look-up, which the provider retries for hours.
    ours = isinstance(message_id, str) and bool(message_id)
    message = await store.messages.by_message_id(message_id) if ours else None
    if message is None:
        return False
    if name == "Email Bounced" and hard_bounce:
        await engagement.suppress(message, HARD_BOUNCE, "webhook")
    if name == "Email Marked as Spam":
        await engagement.suppress(message, SPAM_COMPLAINT, "webhook")
    if name == "Unsubscribed":
        # withdraw() records the ledger row and the Unsubscribed event itself.
        if await engagement.withdraw(
            message.contact_id, message.topic, source="webhook", message=message
        ):
            kick(message.contact_id)
        return True
    props = {**attribution(message), **extra}
    if await engagement.event(message.contact_id, name, props, event_id=_bounded(event_id)):
        kick(message.contact_id)
    return True


def _bounded(event_id: str) -> str:
    """``event_id`` within the event log's column: a longer one (ids a provider sent, of any
    length, was a 500 on PostgreSQL) keeps its start and ends with its hash, so a retry of the
    same event still gets the same id."""
    if len(event_id) <= EVENT_ID_MAX:
        return event_id
    digest = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{event_id[: EVENT_ID_MAX - len(digest) - 1]}~{digest}"


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # nested past the parser's depth: not a 500 either
        return None


def _json_object(raw: bytes) -> dict[str, Any] | None:
    value = _json(raw)
    return value if isinstance(value, dict) else None


def _unusable(provider: str, used: dict[str, Any]) -> bool:
    """Whether a value of ``used`` (what the event would look up or store, keyed by the
    provider's own field names) holds what the store cannot (U+0000, a lone surrogate, NaN,
    deep nesting: ``store/storable.py``); if so it is logged once, without the value.

    Such an event can never be recorded: PostgreSQL cannot store U+0000 (nor look it up), and
    refusing it on SQLite too keeps the backends alike; a lone surrogate fails on both. It is
    answered 2xx and ignored, because a 2xx is the one answer every provider takes as final:
    Postmark retries anything but a 200 for about 10 hours (only a 403 stops it, and 403 means
    bad credentials here), SendGrid any non-2xx for 24 hours, Mailgun anything but a 200 or a
    406 for 8 hours; Twilio retries only when the URL asks for it (``#rc=``), and logs any
    non-2xx as an error of ours. A retry would bring the same bytes back, so an error answer
    would buy nothing but the retries.
    """
    found = unstorable_field(used)
    if found is None:
        return False
    field, reason = found
    log.warning("webhook event ignored", provider=provider, field=field, reason=reason)
    return True


def _bad_body(expected: str) -> JSONResponse:
    # A 4xx, not a 500: providers retry server errors, and this body will never get better.
    return JSONResponse(
        {"error": "invalid_request", "field": "body", "message": f"expected {expected}"},
        status_code=400,
    )


def make_webhooks_router(
    policy: MessagingPolicy,
    *,
    postmark_username: str | None = None,
    postmark_password: str | None = None,
    sendgrid_public_key: str | None = None,
    mailgun_signing_key: str | None = None,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """Webhook endpoints; each refuses every call until its credentials are configured.

    Args:
        clock: seconds since 1970, for the freshness of signed webhooks (tests move it).
    """
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])

    @router.post("/postmark", summary="Postmark webhook")
    async def postmark(request: Request) -> JSONResponse:
        if not (postmark_username and postmark_password) or not _basic_ok(
            request, postmark_username, postmark_password
        ):
            return JSONResponse({"error": "bad credentials"}, status_code=401)
        body = _json_object(await request.body())
        if body is None:
            return _bad_body("a JSON object")
        kind = str(body.get("RecordType", ""))
        name = POSTMARK.get(kind)
        if name is None:
            return JSONResponse({"status": "ignored"})
        if kind == "SubscriptionChange" and not body.get("SuppressSending"):
            return JSONResponse({"status": "ignored"})
        raw_metadata = body.get("Metadata")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        message_id = metadata.get("sojourn_message_id")
        # What the event looks up and stores, by Postmark's names (for _unusable).
        used: dict[str, Any] = {
            "Metadata": {"sojourn_message_id": message_id},
            "MessageID": body.get("MessageID"),
            "ID": body.get("ID"),
        }
        extra: dict[str, Any] = {"provider": "postmark"}
        if kind == "Click":
            extra["url"] = used["OriginalLink"] = body.get("OriginalLink")
        if kind == "Bounce":
            extra["bounce_type"] = used["Type"] = body.get("Type")
        stamp = next((k for k in ("DeliveredAt", "ReceivedAt", "BouncedAt") if body.get(k)), None)
        when = body[stamp] if stamp else ""
        if stamp:
            used[stamp] = when
        if name == "Unsubscribed":
            used = {"Metadata": used["Metadata"]}  # withdraw() stores the message's ids alone
        if _unusable("postmark", used):
            return JSONResponse({"status": "ignored"})
        event_id = f"postmark-{kind}-{body.get('MessageID')}-{body.get('ID', '')}-{when}"
        ours = await _apply(
            Engagement(request.app.state.store, policy),
            message_id,
            name,
            extra,
            event_id,
            hard_bounce=body.get("Type") == "HardBounce",
            kick=partial(kick_relay, request.app),
        )
        return JSONResponse({"status": "recorded" if ours else "unknown message"})

    @router.post("/sendgrid", summary="SendGrid event webhook")
    async def sendgrid(request: Request) -> JSONResponse:
        raw = await request.body()
        signature = request.headers.get("x-twilio-email-event-webhook-signature", "")
        timestamp = request.headers.get("x-twilio-email-event-webhook-timestamp", "")
        if not sendgrid_public_key or not sendgrid_signature_ok(
            sendgrid_public_key, signature, timestamp, raw
        ):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if not fresh(timestamp, clock()):
            return JSONResponse({"error": "stale signature"}, status_code=401)
        items = _json(raw)
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return _bad_body("a JSON array of event objects")
        engagement = Engagement(request.app.state.store, policy)
        recorded = ignored = 0
        for index, item in enumerate(items):
            name = SENDGRID.get(str(item.get("event")))
            if name is None:
                continue
            extra: dict[str, Any] = {"provider": "sendgrid"}
            if item.get("url"):
                extra["url"] = item["url"]
            id_key = "sg_event_id" if item.get("sg_event_id") else "sg_message_id"
            used = {key: item.get(key) for key in ("sojourn_message_id", id_key, "url")}
            if name == "Unsubscribed":
                used = {"sojourn_message_id": used["sojourn_message_id"]}  # see withdraw()
            if _unusable("sendgrid", {f"[{index}]": used}):
                ignored += 1  # the others of the batch are still recorded
                continue
            # SendGrid: "bounce" is a hard bounce; "blocked" (type) and "dropped" are not.
            hard = item.get("event") == "bounce" and item.get("type", "bounce") == "bounce"
            event_id = f"sendgrid-{item.get(id_key)}"
            recorded += await _apply(
                engagement,
                item.get("sojourn_message_id"),
                name,
                extra,
                event_id,
                hard_bounce=hard,
                kick=partial(kick_relay, request.app),
            )
        answer: dict[str, Any] = {"status": "recorded", "count": recorded}
        if ignored:
            answer["ignored"] = ignored
        return JSONResponse(answer)

    @router.post("/mailgun", summary="Mailgun webhook")
    async def mailgun(request: Request) -> JSONResponse:
        body = _json_object(await request.body())
        signature = body.get("signature") if body else None
        if not mailgun_signing_key or not mailgun_signature_ok(mailgun_signing_key, signature):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        assert body is not None and isinstance(signature, dict)
        now = clock()
        if not fresh(signature["timestamp"], now):
            return JSONResponse({"error": "stale signature"}, status_code=401)
        store = request.app.state.store
        at = datetime.fromtimestamp(now, UTC)
        token = str(signature["token"])[:128]
        if _unusable("mailgun", {"signature": {"token": token}}):
            return JSONResponse({"status": "ignored"})
        if not await WebhookTokens(store.engine).first_use("mailgun", token, at, 2 * FRESH_FOR):
            return JSONResponse({"error": "signature already used"}, status_code=409)
        data = body.get("event-data")
        if not isinstance(data, dict):
            return _bad_body('an object with "signature" and "event-data"')
        kind = str(data.get("event", ""))
        name = MAILGUN.get(kind)
        permanent = data.get("severity") == "permanent"
        if name is None or (kind == "failed" and not permanent):
            return JSONResponse({"status": "ignored"})
        variables = data.get("user-variables")
        variables = variables if isinstance(variables, dict) else {}
        # What the event looks up and stores, by Mailgun's names (for _unusable).
        used: dict[str, Any] = {
            "user-variables": {"sojourn_message_id": variables.get("sojourn_message_id")},
            "id": data.get("id"),
            "timestamp": data.get("timestamp"),
        }
        extra: dict[str, Any] = {"provider": "mailgun"}
        if kind == "clicked" and data.get("url"):
            extra["url"] = used["url"] = data["url"]
        if kind == "failed":
            extra["bounce_type"] = used["reason"] = data.get("reason")
        if name == "Unsubscribed":
            used = {"user-variables": used["user-variables"]}  # withdraw() stores ours alone
        if _unusable("mailgun", {"event-data": used}):
            return JSONResponse({"status": "ignored"})
        # Mailgun's event id is unique within a day; with the event time it is for good.
        event_id = f"mailgun-{kind}-{data.get('id')}-{data.get('timestamp')}"
        ours = await _apply(
            Engagement(store, policy),
            variables.get("sojourn_message_id"),
            name,
            extra,
            event_id,
            hard_bounce=permanent,
            kick=partial(kick_relay, request.app),
        )
        return JSONResponse({"status": "recorded" if ours else "unknown message"})

    return router
