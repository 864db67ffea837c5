"""A real HTTP server on 127.0.0.1 speaking the shape of Postmark, SendGrid and Mailgun.

Recipients steer the answer: ``ratelimited@`` → 429 with ``Retry-After: 7``, ``down@`` → 503,
``invalid@`` → the provider's validation error (422 or 400). Every request is kept.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.ports import free_port


@dataclass
class Recorded:
    """Requests the fake providers received: (provider, headers, body)."""

    calls: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)


def _trouble(to: str) -> Response | None:
    if to.startswith("ratelimited"):
        return JSONResponse({"error": "slow down"}, status_code=429, headers={"Retry-After": "7"})
    if to.startswith("down"):
        return JSONResponse({"error": "unavailable"}, status_code=503)
    return None


def make_app(recorded: Recorded) -> Starlette:
    async def postmark(request: Request) -> Response:
        if request.headers.get("x-postmark-server-token") != "pm-token":
            return JSONResponse({"ErrorCode": 10, "Message": "bad token"}, status_code=401)
        body = await request.json()
        recorded.calls.append(("postmark", dict(request.headers), body))
        if body["To"].startswith("invalid"):
            return JSONResponse({"ErrorCode": 300, "Message": "Invalid 'To'"}, status_code=422)
        trouble = _trouble(body["To"])
        return trouble or JSONResponse({"ErrorCode": 0, "MessageID": str(uuid.uuid4())})

    async def sendgrid(request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer sg-key":
            return JSONResponse({"errors": [{"message": "unauthorized"}]}, status_code=401)
        body = await request.json()
        recorded.calls.append(("sendgrid", dict(request.headers), body))
        to = body["personalizations"][0]["to"][0]["email"]
        if to.startswith("invalid"):
            return JSONResponse({"errors": [{"field": "to", "message": "bad"}]}, status_code=400)
        trouble = _trouble(to)
        return trouble or Response(status_code=202, headers={"X-Message-Id": "sg-" + to[:4]})

    async def mailgun(request: Request) -> Response:
        form = await request.form()
        recorded.calls.append(
            ("mailgun", dict(request.headers), [(k, str(v)) for k, v in form.multi_items()])
        )
        if not request.headers.get("authorization", "").startswith("Basic "):
            return JSONResponse({"message": "forbidden"}, status_code=401)
        to = str(form["to"])
        if to.startswith("invalid"):
            return JSONResponse({"message": "'to' parameter is not a valid address"}, 400)
        trouble = _trouble(to)
        return trouble or JSONResponse({"id": "<mg-1@mg.test>", "message": "Queued. Thank you."})

    return Starlette(
        routes=[
            Route("/email", postmark, methods=["POST"]),
            Route("/v3/mail/send", sendgrid, methods=["POST"]),
            Route("/v3/{domain}/messages", mailgun, methods=["POST"]),
        ]
    )


@asynccontextmanager
async def serve_app(app: Any, port: int | None = None, lifespan: str = "off") -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (a free port by default); yields its URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan=lifespan)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
