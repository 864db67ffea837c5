"""A local HTTP server acting as a web push service (RFC 8030), and browser-side keys.

It checks what a real push service checks, the VAPID token (ES256 JWT, ``aud`` = its origin,
``k`` = the key that signed it), and, playing the browser, decrypts the ``aes128gcm`` payload
with the subscription's private key. The endpoint's last path segment steers the answer:
``gone`` → 410, ``missing`` → 404, ``busy`` → 503 with ``Retry-After: 3``, anything else → 201.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One browser's push keys: what ``PushSubscription.toJSON()`` publishes, and the secret."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)

    def decrypt(self, body: bytes) -> Any:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


@dataclass
class PushRecorded:
    """Deliveries: endpoint name → decrypted payloads; VAPID problems seen."""

    browsers: dict[str, Browser] = field(default_factory=dict)
    delivered: dict[str, list[Any]] = field(default_factory=dict)
    vapid_problems: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def vapid_problem(header: str, origin: str) -> str | None:
    """Why a ``vapid t=...,k=...`` header is not valid for ``origin``, or None."""
    if not header.startswith("vapid "):
        return "not a vapid authorization"
    parts = dict(p.strip().split("=", 1) for p in header[6:].split(","))
    token, key = parts.get("t", ""), parts.get("k", "")
    head, claims, signature = token.split(".")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except Exception:
        return "bad signature"
    body = json.loads(unb64url(claims))
    if body.get("aud") != origin:
        return f"aud {body.get('aud')} is not {origin}"
    if not str(body.get("sub", "")).startswith(("mailto:", "https:")):
        return "no sub"
    if body.get("exp", 0) < time.time():
        return "expired"
    return None


def make_push_app(recorded: PushRecorded) -> Starlette:
    async def push(request: Request) -> Response:
        name = request.path_params["name"]
        recorded.headers.append(dict(request.headers))
        origin = f"{request.url.scheme}://{request.url.netloc}"
        problem = vapid_problem(request.headers.get("authorization", ""), origin)
        if problem:
            recorded.vapid_problems.append(problem)
            return JSONResponse({"reason": problem}, status_code=403)
        if name.startswith("gone"):
            return Response(status_code=410)
        if name.startswith("missing"):
            return Response(status_code=404)
        if name.startswith("busy"):
            return Response(status_code=503, headers={"Retry-After": "3"})
        payload = recorded.browsers[name].decrypt(await request.body())
        recorded.delivered.setdefault(name, []).append(payload)
        return Response(status_code=201, headers={"Location": f"/m/{len(recorded.headers)}"})

    return Starlette(routes=[Route("/push/{name}", push, methods=["POST"])])
