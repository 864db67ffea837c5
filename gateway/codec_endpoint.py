"""The Temporal codec server protocol, so the Web UI shows decrypted payloads.

``POST /codec/decode`` and ``/codec/encode`` take and answer ``{"payloads": [...]}`` in protobuf
JSON, as in temporalio/samples-python ``encryption/codec_server.py``; browsers from the UI's
origin get CORS headers (preflights need no key, the calls themselves need an admin key). An
erased contact's payloads decode to a readable ``[shredded: …]`` text.

Point the UI at ``<gateway>/codec`` (``sojourn dev`` passes ``--ui-codec-endpoint``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload, Payloads

from store.keys import KeyRing
from worker.codec import EncryptionCodec
from worker.settings import Settings

ALLOWED_HEADERS = "authorization,content-type,x-namespace"


def make_codec_router(
    settings: Settings,
    keys: Callable[[], KeyRing],
    guard: Sequence[Any],
    responses: dict[int | str, dict[str, Any]] | None = None,
) -> APIRouter:
    """The ``/codec`` routes; ``keys`` gives the gateway's key ring, ``guard`` the admin check,
    ``responses`` the refusals that check answers (so the OpenAPI documents them)."""
    router = APIRouter(prefix="/codec", tags=["admin"], responses=responses)
    origins = set(settings.ui_origins)

    def cors(request: Request, response: Response) -> Response:
        origin = request.headers.get("origin")
        if origin in origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
        return response

    async def apply(request: Request, decode: bool) -> Response:
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except (json_format.ParseError, DecodeError, UnicodeDecodeError) as exc:
            answer = JSONResponse(
                {"error": "invalid_request", "message": f"bad payloads: {exc}"}, 400
            )
            return cors(request, answer)
        codec = EncryptionCodec(keys(), shredded="placeholder")
        items: list[Payload] = list(payloads.payloads)
        result = await (codec.decode(items) if decode else codec.encode(items))
        body = json_format.MessageToJson(Payloads(payloads=result))
        return cors(request, Response(body, media_type="application/json"))

    @router.options("/decode", include_in_schema=False)
    @router.options("/encode", include_in_schema=False)
    async def preflight(request: Request) -> Response:
        return cors(request, Response(status_code=204))

    @router.post("/decode", dependencies=list(guard), summary="Decode payloads (Web UI codec)")
    async def decode(request: Request) -> Response:
        """Decrypt payloads for the Temporal Web UI; erased contacts' show as shredded."""
        return await apply(request, decode=True)

    @router.post("/encode", dependencies=list(guard), summary="Encode payloads (Web UI codec)")
    async def encode(request: Request) -> Response:
        """Encrypt payloads the Web UI sends (signals, queries) with the system key."""
        return await apply(request, decode=False)

    return router
