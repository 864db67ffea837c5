"""Refused requests answer JSON that names the field to fix, and are logged once.

Shape: ``{"error": "invalid_request", "code": "invalid_request", "field": "traits.email",
"message": "..."}`` (``code`` and ``message`` are what Segment's SDKs read from an error). 400
when the body is not JSON (or not gzip it claims to be), 401 without a valid key, 413 past a
size limit, 415 for a content type or encoding the API does not take, 422 when JSON has the
wrong shape, 429 past the rate limit. Pydantic's ``input`` is never echoed back or logged: it
may hold personal data. The log line carries status, path, field and the key's id, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from activities import metrics
from gateway.models import ErrorBody
from store.contacts import InvalidTrait

log = structlog.get_logger(__name__)

# Tags of the batch's discriminated union; pydantic puts them in the error location.
_ITEM_TAGS = {"identify", "track", "page", "screen", "group", "alias"}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}
# The refusal counter's reason: its two classic kinds, else the (finite) code.
REASONS = {400: "malformed", 422: "invalid"}


class ApiError(Exception):
    """A refusal with its status, machine code, field and message (and extra headers).

    Args:
        status: HTTP status.
        code: machine-readable reason (``payload_too_large``, ``unauthorized``, ...).
        field: dotted path of what to fix (``body``, ``traits``, ``authorization``).
        message: what is wrong, and the limit when there is one.
        headers: e.g. ``Retry-After`` or ``WWW-Authenticate``.
    """

    def __init__(
        self,
        status: int,
        code: str,
        field: str | None,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field
        self.message = message
        self.headers = dict(headers or {})


class InvalidField(ValueError):
    """A request refused because of one field (raised by the routes, answered as 422).

    Args:
        field: dotted path of the field, as the client sent it (``traits.email``).
        message: what is wrong with it.
        status: 422, or 413 when the field is over a size limit.
    """

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status

    @classmethod
    def from_trait(cls, exc: InvalidTrait, prefix: str = "") -> InvalidField:
        """Wrap the store's trait error, prefixed for batch items (``batch.0.``)."""
        return cls(prefix + exc.field, str(exc))

    @property
    def code(self) -> str:
        """``payload_too_large`` for size limits, ``invalid_request`` otherwise."""
        return "payload_too_large" if self.status == 413 else "invalid_request"


def field_path(loc: Sequence[str | int], error_type: str = "") -> str:
    """Dotted field path from a pydantic error location, without FastAPI's ``body`` root.

    ``("body", "batch", 2, "track", "event")`` becomes ``batch.2.event``; a batch item whose
    ``type`` is missing or unknown points at ``batch.2.type``.
    """
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    cleaned: list[str] = []
    for index, part in enumerate(parts):
        after_item = index == 0 or isinstance(parts[index - 1], int)
        if after_item and part in _ITEM_TAGS:
            continue
        cleaned.append(str(part))
    if error_type in ("union_tag_not_found", "union_tag_invalid"):
        cleaned.append("type")
    if error_type == "identity_missing":
        cleaned.append("userId")
    return ".".join(cleaned) or "body"


def first_error(errors: Sequence[Mapping[str, Any]], prefix: str = "") -> tuple[str, str]:
    """``(field, message)`` of the first pydantic error, the field prefixed (``batch.3.``)."""
    if not errors:
        return prefix.rstrip(".") or "body", "invalid"
    first = errors[0]
    field = field_path(first.get("loc", ()), first.get("type", ""))
    if prefix:
        field = prefix + field if field != "body" else prefix.rstrip(".")
    return field, str(first.get("msg", "invalid"))


def refusal(
    request: Request,
    status: int,
    code: str,
    field: str | None,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The JSON answer to a refused request, logged once (ids only, never the body)."""
    log.info(
        "request refused",
        status=status,
        path=request.url.path,
        field=field,
        code=code,
        key_id=getattr(request.state, "key_id", None),
    )
    metrics.event_refused(REASONS.get(status, code))
    # ``error`` is the broad kind (stable for clients since v1), ``code`` the precise reason.
    kind = "invalid_request" if status in (400, 422) else code
    body = ErrorBody(error=kind, code=code, field=field, message=message)
    return JSONResponse(body.model_dump(), status_code=status, headers=dict(headers or {}))


async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer an :class:`ApiError` as it says."""
    assert isinstance(exc, ApiError)
    return refusal(request, exc.status, exc.code, exc.field, exc.message, exc.headers)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer a body that does not parse (400) or does not validate (422)."""
    assert isinstance(exc, RequestValidationError)
    errors: Sequence[dict[str, Any]] = exc.errors()
    if errors and errors[0].get("type") == "json_invalid":
        detail = (errors[0].get("ctx") or {}).get("error", "")
        message = "request body is not valid JSON" + (f": {detail}" if detail else "")
        return refusal(request, 400, "invalid_json", "body", message)
    field, message = first_error(errors)
    return refusal(request, 422, "invalid_request", field, message)


async def on_invalid_field(request: Request, exc: Exception) -> JSONResponse:
    """Answer a field the routes refused after parsing (for example a malformed email)."""
    assert isinstance(exc, InvalidField | InvalidTrait)
    if isinstance(exc, InvalidTrait):
        exc = InvalidField.from_trait(exc)
    return refusal(request, exc.status, exc.code, exc.field, exc.message)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """404 and 405 (and any other HTTPException) in the same JSON shape, logged like the rest."""
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return refusal(request, exc.status_code, code, None, str(exc.detail), headers=headers or None)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    path = request.url.path
    pending = list(request.app.routes)
    while pending:
        route = pending.pop()
        # Included routers wrap their routes (FastAPI >= 0.16x): look inside them too.
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and hasattr(inner, "routes"):
            pending.extend(inner.routes)
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path) and getattr(route, "methods", None):
            methods |= set(route.methods)
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(InvalidField, on_invalid_field)
    app.add_exception_handler(InvalidTrait, on_invalid_field)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
