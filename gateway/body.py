"""Reading an ingestion body within its size limit: plain or gzip, never unbounded.

The limit holds for the bytes on the wire *and* for the decompressed JSON: a ``Content-Length``
over it is refused before reading, a chunked body is cut off as soon as it passes it, and gzip
is inflated with a cap on the output, so a gzip bomb costs at most ``limit`` bytes of memory.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from fastapi import Request

from gateway.errors import ApiError

JSON_TYPES = ("application/json", "text/plain", "")  # text/plain: browsers' sendBeacon
GZIP = ("gzip", "x-gzip")


def too_large(field: str, limit: int, what: str) -> ApiError:
    """The 413 for a body or field over its limit, naming the limit."""
    return ApiError(
        413,
        "payload_too_large",
        field,
        f"{what} must be at most {limit} bytes ({limit // 1024} KB, Segment's limit)",
    )


def _encoding(request: Request) -> str:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise ApiError(
            415, "unsupported_media_type", "content-type", "send Content-Type: application/json"
        )
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return ""
    if encoding in GZIP:
        return "gzip"
    raise ApiError(
        415,
        "unsupported_media_type",
        "content-encoding",
        f"Content-Encoding {encoding!r} is not supported; send gzip or nothing",
    )


async def _raw(request: Request, limit: int, what: str) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large("body", limit, what)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large("body", limit, what)
        chunks.append(chunk)
    return b"".join(chunks)


def _gunzip(data: bytes, limit: int, what: str) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ApiError(400, "invalid_body", "body", f"body is not valid gzip: {exc}") from exc
    if len(out) > limit:
        raise too_large("body", limit, what + " (decompressed)")
    if not inflater.eof:
        raise ApiError(400, "invalid_body", "body", "gzip body is truncated")
    return out


async def read_json(request: Request, limit: int, what: str = "a call") -> Any:
    """The request's JSON body, at most ``limit`` bytes before and after gzip.

    Raises:
        ApiError: 413 over the limit, 415 for other media types or encodings, 400 when the
            bytes are not (gzip of) JSON.
    """
    encoding = _encoding(request)
    data = await _raw(request, limit, what)
    if encoding == "gzip":
        data = _gunzip(data, limit, what)
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        detail = str(exc) if isinstance(exc, json.JSONDecodeError) else "not UTF-8 JSON"
        raise ApiError(
            400, "invalid_json", "body", f"request body is not valid JSON: {detail}"
        ) from exc
