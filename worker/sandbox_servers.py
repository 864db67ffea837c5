"""Local stand-ins for what Sojourn's channels call: Twilio's Messages API and an ad-audience
webhook receiver, real HTTP servers on 127.0.0.1.

The tests serve them on free ports (tests/channels); ``sojourn sandbox-servers`` serves them
beside ``make dev`` and prints what arrives (worker/cli_sandbox.py). One implementation for both.

**Twilio** (the parts Sojourn uses): ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form,
HTTP Basic with :data:`SID` and :data:`TOKEN`) and the list ``GET`` on the same path (``To``).
The number steers the answer, by its last four digits: ``0429`` → 429 with ``Retry-After: 7``
(once), ``0503`` → 503 (once), ``2161`` → 400 with code 21610 (unsubscribed recipient),
``9999`` → accepted after a second (longer than a test client waits). Errors have Twilio's JSON
shape. With ``callbacks`` it posts each accepted message's ``StatusCallback`` (``delivered``),
signed with ``X-Twilio-Signature`` as Twilio does; with ``gateway`` it also takes
``POST /sandbox/reply`` (form ``From``, ``Body``) and forwards it, signed, to the gateway's
inbound webhook, as Twilio does when someone replies STOP.

**Audiences**: ``POST /hooks/{name}`` checks ``X-Sojourn-Signature`` and records the JSON body.
``fail_first`` answers that many calls 503 before accepting; ``refuse`` answers 422 always.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.twilio_inbound import twilio_signature

SID, TOKEN = "AC" + "0" * 32, "twilio-token"
SENDER = "+33700000001"
SECRET = "audience-secret"
INBOUND = "/webhooks/twilio/inbound"


@dataclass
class TwilioRecorded:
    """What the fake Twilio received and accepted; ``on_message`` hears each accepted one."""

    posts: list[dict[str, str]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    troubled: set[str] = field(default_factory=set)
    lists: int = 0
    replies: list[dict[str, Any]] = field(default_factory=list)
    on_message: Callable[[dict[str, Any]], None] | None = None
    on_reply: Callable[[dict[str, Any]], None] | None = None


def _error(status: int, code: int, message: str, **headers: str) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status, headers=headers)


async def post_signed(url: str, params: dict[str, str], *, sign_url: str | None = None) -> int:
    """POST ``params`` as a form to ``url``, signed with :data:`TOKEN` the way Twilio signs."""
    signature = twilio_signature(TOKEN, sign_url or url, params)
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(url, data=params, headers={"X-Twilio-Signature": signature})
    return answer.status_code


def make_twilio(
    recorded: TwilioRecorded,
    *,
    callbacks: bool = False,
    gateway: str | None = None,
    public_url: str | None = None,
) -> Starlette:
    """Twilio's Messages API; ``gateway`` (and the ``public_url`` it signs for) enable replies."""

    def authorised(request: Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        return request.headers.get("authorization") == expected

    async def create(request: Request) -> Response:
        if request.path_params["sid"] != SID or not authorised(request):
            return _error(401, 20003, "Authenticate")
        form = {k: str(v) for k, v in (await request.form()).items()}
        recorded.posts.append(form)
        to = form.get("To", "")
        if not to.startswith("+"):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        once = to not in recorded.troubled
        if to.endswith("0429") and once:
            recorded.troubled.add(to)
            return _error(429, 20429, "Too Many Requests", **{"Retry-After": "7"})
        if to.endswith("0503") and once:
            recorded.troubled.add(to)
            return _error(503, 20500, "Service unavailable")
        if to.endswith("2161"):
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        if to.endswith("9999"):
            await asyncio.sleep(1.0)
        message = {
            "sid": "SM" + uuid.uuid4().hex,
            "to": to,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body", ""),
            "status": "queued",
            "num_segments": "1",
        }
        recorded.accepted.append(message)
        if recorded.on_message is not None:
            recorded.on_message(message)
        task = None
        if callbacks and form.get("StatusCallback"):
            params = {"MessageSid": str(message["sid"]), "MessageStatus": "delivered", "To": to}
            task = BackgroundTask(post_signed, form["StatusCallback"], params)
        return JSONResponse(message, status_code=201, background=task)

    async def listing(request: Request) -> Response:
        if not authorised(request):
            return _error(401, 20003, "Authenticate")
        recorded.lists += 1
        to = request.query_params.get("To")
        found = [m for m in recorded.accepted if to is None or m["to"] == to]
        return JSONResponse({"messages": found, "page": 0, "page_size": 50})

    async def messages(request: Request) -> Response:
        return await (create(request) if request.method == "POST" else listing(request))

    async def reply(request: Request) -> Response:
        if gateway is None:
            return JSONResponse({"error": "started without a gateway"}, status_code=404)
        form = {k: str(v) for k, v in (await request.form()).items()}
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "From": form.get("From", ""),
            "To": form.get("To", SENDER),
            "Body": form.get("Body", ""),
        }
        sign_url = (public_url or gateway).rstrip("/") + INBOUND
        status = await post_signed(gateway.rstrip("/") + INBOUND, params, sign_url=sign_url)
        answer = {**params, "gateway_status": status}
        recorded.replies.append(answer)
        if recorded.on_reply is not None:
            recorded.on_reply(answer)
        return JSONResponse(answer, status_code=200 if status < 400 else 502)

    return Starlette(
        routes=[
            Route("/2010-04-01/Accounts/{sid}/Messages.json", messages, methods=["GET", "POST"]),
            Route("/sandbox/reply", reply, methods=["POST"]),
        ]
    )


@dataclass
class AudienceRecorded:
    """Calls received: (headers, JSON body); whether each signature verified."""

    calls: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    verified: list[bool] = field(default_factory=list)
    fail_first: int = 0
    refuse: bool = False
    on_call: Callable[[str, dict[str, Any], bool], None] | None = None

    @property
    def accepted(self) -> list[dict[str, Any]]:
        return [body for (_, body), ok in zip(self.calls, self.verified, strict=True) if ok]


def verify(secret: str, header: str, body: bytes) -> bool:
    """Check ``X-Sojourn-Signature: t=...,v1=...`` the way a receiver would."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    mac = hmac.new(secret.encode(), f"{parts.get('t', '')}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), parts.get("v1", ""))


def make_audience_app(recorded: AudienceRecorded, secret: str = SECRET) -> Starlette:
    """The audience webhook receiver."""

    async def hook(request: Request) -> Response:
        raw = await request.body()
        ok = verify(secret, request.headers.get("x-sojourn-signature", ""), raw)
        body = json.loads(raw)
        recorded.calls.append((dict(request.headers), body))
        if recorded.on_call is not None:
            recorded.on_call(request.path_params["name"], body, ok)
        if recorded.fail_first > 0:
            recorded.fail_first -= 1
            recorded.verified.append(False)
            return JSONResponse({"error": "busy"}, status_code=503)
        if recorded.refuse:
            recorded.verified.append(False)
            return JSONResponse({"error": "bad audience"}, status_code=422)
        recorded.verified.append(ok)
        return JSONResponse({"ok": ok}, status_code=200 if ok else 401)

    return Starlette(routes=[Route("/hooks/{name}", hook, methods=["POST"])])


def make_sandbox(
    twilio: TwilioRecorded,
    audiences: AudienceRecorded,
    *,
    gateway: str | None = None,
    public_url: str | None = None,
) -> Starlette:
    """Twilio (with status callbacks and replies) and the audience receiver on one server."""
    routes = [
        *make_twilio(twilio, callbacks=True, gateway=gateway, public_url=public_url).routes,
        *make_audience_app(audiences).routes,
    ]
    return Starlette(routes=routes)


def sandbox_env(url: str, audience: str = "retargeting") -> dict[str, str]:
    """The ``SOJOURN_*`` settings that point ``sojourn dev`` at a sandbox served at ``url``."""
    hooks = {audience: {"url": f"{url}/hooks/{audience}", "secret": SECRET}}
    return {
        "SOJOURN_SMS_PROVIDER": "twilio",
        "SOJOURN_TWILIO_URL": url,
        "SOJOURN_TWILIO_ACCOUNT_SID": SID,
        "SOJOURN_TWILIO_AUTH_TOKEN": TOKEN,
        "SOJOURN_TWILIO_FROM": SENDER,
        "SOJOURN_AUDIENCES": json.dumps(hooks),
    }
