"""A real HTTP server on 127.0.0.1 speaking Twilio's Messages API (the parts Sojourn uses).

``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form, HTTP Basic with SID and token) and the
list ``GET`` on the same path (``To``, ``DateSent>``). The number steers the answer, by its
last four digits: ``0429`` → 429 with ``Retry-After: 7`` (once), ``0503`` → 503 (once),
``2161`` → 400 with code 21610 (unsubscribed recipient), ``9999`` → accepted after a second
(longer than a test client waits). Errors have Twilio's JSON shape.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SID, TOKEN = "AC" + "0" * 32, "twilio-token"


@dataclass
class TwilioRecorded:
    """What the fake Twilio received and accepted."""

    posts: list[dict[str, str]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    troubled: set[str] = field(default_factory=set)
    lists: int = 0


def _error(status: int, code: int, message: str, **headers: str) -> Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def make_twilio(recorded: TwilioRecorded) -> Starlette:
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
        return JSONResponse(message, status_code=201)

    async def listing(request: Request) -> Response:
        if not authorised(request):
            return _error(401, 20003, "Authenticate")
        recorded.lists += 1
        to = request.query_params.get("To")
        found = [m for m in recorded.accepted if to is None or m["to"] == to]
        return JSONResponse({"messages": found, "page": 0, "page_size": 50})

    async def messages(request: Request) -> Response:
        return await (create(request) if request.method == "POST" else listing(request))

    return Starlette(
        routes=[
            Route("/2010-04-01/Accounts/{sid}/Messages.json", messages, methods=["GET", "POST"])
        ]
    )
