"""A local HTTP server receiving the audience webhooks: checks signatures, records bodies.

``fail_first`` answers that many calls 503 before accepting; ``refuse`` answers 422 always.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SECRET = "audience-secret"


@dataclass
class AudienceRecorded:
    """Calls received: (headers, JSON body); whether each signature verified."""

    calls: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    verified: list[bool] = field(default_factory=list)
    fail_first: int = 0
    refuse: bool = False

    @property
    def accepted(self) -> list[dict[str, Any]]:
        return [body for (_, body), ok in zip(self.calls, self.verified, strict=True) if ok]


def verify(secret: str, header: str, body: bytes) -> bool:
    """Check ``X-Sojourn-Signature: t=...,v1=...`` the way a receiver would."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    mac = hmac.new(secret.encode(), f"{parts.get('t', '')}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), parts.get("v1", ""))


def make_audience_app(recorded: AudienceRecorded) -> Starlette:
    async def hook(request: Request) -> Response:
        raw = await request.body()
        ok = verify(SECRET, request.headers.get("x-sojourn-signature", ""), raw)
        recorded.calls.append((dict(request.headers), json.loads(raw)))
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
