"""A real HTTP server on 127.0.0.1 speaking the shape of Postmark, SendGrid and Mailgun.

Recipients steer the answer: ``ratelimited@`` → 429 with ``Retry-After: 7``, ``down@`` → 503,
``invalid@`` → the provider's validation error (422 or 400), ``slow@`` → accepted after a
second (longer than a test client waits). Every request is kept; each API's search answers
from the messages it accepted (Postmark metadata, SendGrid custom args, Mailgun variables).
"""

from __future__ import annotations

import asyncio
import json
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
    # Sojourn idempotency keys of the messages each provider answered 2xx for.
    accepted: dict[str, list[str]] = field(default_factory=dict)
    searches: int = 0

    async def accept(self, provider: str, to: str, key: str) -> None:
        if to.startswith("slow"):
            await asyncio.sleep(1.0)
        self.accepted.setdefault(provider, []).append(key)

    def has(self, provider: str, key: str) -> bool:
        self.searches += 1
        return key in self.accepted.get(provider, [])


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
        if trouble:
            return trouble
        await recorded.accept("postmark", body["To"], body["Metadata"]["sojourn_key"])
        return JSONResponse({"ErrorCode": 0, "MessageID": str(uuid.uuid4())})

    async def postmark_search(request: Request) -> Response:
        key = request.query_params["metadata_sojourn_key"]
        found = recorded.has("postmark", key)
        return JSONResponse({"TotalCount": int(found), "Messages": [{}] if found else []})

    async def sendgrid(request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer sg-key":
            return JSONResponse({"errors": [{"message": "unauthorized"}]}, status_code=401)
        body = await request.json()
        recorded.calls.append(("sendgrid", dict(request.headers), body))
        to = body["personalizations"][0]["to"][0]["email"]
        if to.startswith("invalid"):
            return JSONResponse({"errors": [{"field": "to", "message": "bad"}]}, status_code=400)
        trouble = _trouble(to)
        if trouble:
            return trouble
        key = body["personalizations"][0]["custom_args"]["sojourn_key"]
        await recorded.accept("sendgrid", to, key)
        return Response(status_code=202, headers={"X-Message-Id": "sg-" + to[:4]})

    async def sendgrid_search(request: Request) -> Response:
        query = request.query_params["query"]
        prefix = "unique_args['sojourn_key']=\""
        assert query.startswith(prefix) and query.endswith('"'), query
        found = recorded.has("sendgrid", query[len(prefix) : -1])
        return JSONResponse({"messages": [{"msg_id": "x"}] if found else []})

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
        if trouble:
            return trouble
        await recorded.accept("mailgun", to, str(form["v:sojourn_key"]))
        return JSONResponse({"id": "<mg-1@mg.test>", "message": "Queued. Thank you."})

    async def mailgun_search(request: Request) -> Response:
        assert request.query_params["event"] == "accepted"
        key = json.loads(request.query_params["user-variables"])["sojourn_key"]
        found = recorded.has("mailgun", key)
        return JSONResponse({"items": [{"event": "accepted"}] if found else []})

    return Starlette(
        routes=[
            Route("/email", postmark, methods=["POST"]),
            Route("/messages/outbound", postmark_search, methods=["GET"]),
            Route("/v3/mail/send", sendgrid, methods=["POST"]),
            Route("/v3/messages", sendgrid_search, methods=["GET"]),
            Route("/v3/{domain}/messages", mailgun, methods=["POST"]),
            Route("/v3/{domain}/events", mailgun_search, methods=["GET"]),
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
