"""Provider webhooks → Sojourn events, suppressions and consent.

- ``POST /webhooks/postmark``: Postmark signs nothing; it sends HTTP Basic credentials that
  you put in the webhook URL. They are checked against ``postmark_webhook_username/password``.
- ``POST /webhooks/sendgrid``: SendGrid's Signed Event Webhook, an ECDSA (P-256, SHA-256)
  signature over ``timestamp + body``, checked with ``sendgrid_webhook_public_key``.

Events are attributed by the ids the providers echo back (Postmark ``Metadata``, SendGrid
``custom_args``): ``email_id``, journey, step. Hard bounces and spam complaints suppress the
address; a provider-side unsubscribe withdraws the message's topic.
"""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from activities.engagement import Engagement, attribution
from activities.policy import MessagingPolicy
from store.suppression import HARD_BOUNCE, SPAM_COMPLAINT

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


def _basic_ok(request: Request, username: str, password: str) -> bool:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        given = base64.b64decode(header[6:]).decode()
    except ValueError:
        return False
    return hmac.compare_digest(given, f"{username}:{password}")


async def _apply(
    engagement: Engagement,
    message_id: str | None,
    name: str,
    extra: dict[str, Any],
    event_id: str,
    *,
    hard_bounce: bool = False,
) -> bool:
    """Record one provider event about one of our messages; False when it is not ours."""
    store = engagement.store
    message = await store.messages.by_message_id(message_id) if message_id else None
    if message is None:
        return False
    if name == "Email Bounced" and hard_bounce:
        await engagement.suppress(message, HARD_BOUNCE, "webhook")
    if name == "Email Marked as Spam":
        await engagement.suppress(message, SPAM_COMPLAINT, "webhook")
    if name == "Unsubscribed":
        # withdraw() records the ledger row and the Unsubscribed event itself.
        await engagement.withdraw(
            message.contact_id, message.topic, source="webhook", message=message
        )
        return True
    props = {**attribution(message), **extra}
    await engagement.event(message.contact_id, name, props, event_id=event_id)
    return True


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _json_object(raw: bytes) -> dict[str, Any] | None:
    value = _json(raw)
    return value if isinstance(value, dict) else None


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
) -> APIRouter:
    """Webhook endpoints; each refuses every call until its credentials are configured."""
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
        metadata = body.get("Metadata") if isinstance(body.get("Metadata"), dict) else {}
        extra: dict[str, Any] = {"provider": "postmark"}
        if kind == "Click":
            extra["url"] = body.get("OriginalLink")
        if kind == "Bounce":
            extra["bounce_type"] = body.get("Type")
        when = body.get("DeliveredAt") or body.get("ReceivedAt") or body.get("BouncedAt") or ""
        event_id = f"postmark-{kind}-{body.get('MessageID')}-{body.get('ID', '')}-{when}"
        ours = await _apply(
            Engagement(request.app.state.store, policy),
            metadata.get("sojourn_message_id"),
            name,
            extra,
            event_id,
            hard_bounce=body.get("Type") == "HardBounce",
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
        items = _json(raw)
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return _bad_body("a JSON array of event objects")
        engagement = Engagement(request.app.state.store, policy)
        recorded = 0
        for item in items:
            name = SENDGRID.get(str(item.get("event")))
            if name is None:
                continue
            extra: dict[str, Any] = {"provider": "sendgrid"}
            if item.get("url"):
                extra["url"] = item["url"]
            # SendGrid: "bounce" is a hard bounce; "blocked" (type) and "dropped" are not.
            hard = item.get("event") == "bounce" and item.get("type", "bounce") == "bounce"
            event_id = f"sendgrid-{item.get('sg_event_id') or item.get('sg_message_id')}"
            recorded += await _apply(
                engagement,
                item.get("sojourn_message_id"),
                name,
                extra,
                event_id,
                hard_bounce=hard,
            )
        return JSONResponse({"status": "recorded", "count": recorded})

    return router
