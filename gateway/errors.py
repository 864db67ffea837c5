"""Refused requests answer JSON that names the field to fix.

Shape: ``{"error": "invalid_request", "field": "batch.2.event", "message": "Field required"}``;
400 when the body is not JSON at all, 422 when it is JSON of the wrong shape. Pydantic's
``input`` is never echoed back or logged: it may hold personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from activities import metrics
from gateway.models import ErrorBody
from store.contacts import InvalidTrait

# Tags of the batch's discriminated union; pydantic puts them in the error location.
_ITEM_TAGS = {"identify", "track"}


class InvalidField(ValueError):
    """A request refused because of one field (raised by the routes, answered as 422).

    Args:
        field: dotted path of the field, as the client sent it (``traits.email``).
        message: what is wrong with it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    @classmethod
    def from_trait(cls, exc: InvalidTrait, prefix: str = "") -> InvalidField:
        """Wrap the store's trait error, prefixed for batch items (``batch.0.``)."""
        return cls(prefix + exc.field, str(exc))


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
        after_item = index > 0 and isinstance(parts[index - 1], int)
        if after_item and part in _ITEM_TAGS:
            continue
        cleaned.append(str(part))
    if error_type in ("union_tag_not_found", "union_tag_invalid"):
        cleaned.append("type")
    return ".".join(cleaned) or "body"


def _error(status: int, field: str | None, message: str) -> JSONResponse:
    body = ErrorBody(field=field, message=message)
    metrics.event_refused("malformed" if status == 400 else "invalid")
    return JSONResponse(body.model_dump(), status_code=status)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer a body that does not parse (400) or does not validate (422)."""
    assert isinstance(exc, RequestValidationError)
    errors: Sequence[dict[str, Any]] = exc.errors()
    if not errors:
        return _error(422, None, "invalid request")
    first = errors[0]
    if first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "")
        message = "request body is not valid JSON" + (f": {detail}" if detail else "")
        return _error(400, "body", message)
    return _error(
        422, field_path(first.get("loc", ()), first.get("type", "")), first.get("msg", "invalid")
    )


async def on_invalid_field(request: Request, exc: Exception) -> JSONResponse:
    """Answer a field the routes refused after parsing (for example a malformed email)."""
    assert isinstance(exc, InvalidField | InvalidTrait)
    if isinstance(exc, InvalidTrait):
        exc = InvalidField.from_trait(exc)
    return _error(422, exc.field, exc.message)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(InvalidField, on_invalid_field)
    app.add_exception_handler(InvalidTrait, on_invalid_field)
