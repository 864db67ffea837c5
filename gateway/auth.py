"""API keys: who may call an endpoint, checked in constant time, logged only by a short hash.

Ingestion (``/v1/*``) takes a *write key* the way Segment's SDKs send it: HTTP Basic with the key
as user name and an empty password (``Authorization: Basic base64("KEY:")``), or
``Authorization: Bearer KEY``, or ``"writeKey"`` in the JSON body (the Python SDK sends both).
The same :class:`KeyRing` and :func:`require_key` serve other key lists (admin keys), so every
endpoint that needs a key refuses it the same way: a 401 JSON body. A key in the header is
checked before the body is read; a call without one has its body read (within the size limits)
to find ``writeKey``, and one whose body cannot be read is a 401 too, never a 400, 413 or 415:
a caller without a key learns nothing about the API from its refusals.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import Request

from gateway.body import read_json
from gateway.errors import ApiError
from gateway.ratelimit import RateLimiter

KEY_ID_LENGTH = 12


def key_id(key: str) -> str:
    """A short, stable hash of ``key`` that logs and metrics may carry (never the key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:KEY_ID_LENGTH]


class KeyRing:
    """A set of accepted keys, compared in constant time.

    Args:
        keys: the accepted keys (empty refuses everything).
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = [(key.encode(), key_id(key)) for key in keys if key]

    def __bool__(self) -> bool:
        return bool(self._keys)

    def match(self, candidate: str | None) -> str | None:
        """The key id of ``candidate`` when it is an accepted key, else None.

        Every accepted key is compared, matched or not, so the time taken does not say which
        key (or how much of one) was right.
        """
        if not candidate:
            return None
        # surrogatepass: a ``writeKey`` of the body may be a lone surrogate (``"\ud800"`` is
        # valid JSON), which strict UTF-8 cannot encode; it matches no key, a 401 not a 500.
        given = candidate.encode("utf-8", "surrogatepass")
        found: str | None = None
        for key, ident in self._keys:
            if hmac.compare_digest(given, key):
                found = ident
        return found


def header_key(request: Request) -> str | None:
    """The key in the ``Authorization`` header (Basic user name, or Bearer token), if any."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""  # present but unreadable: refused, never read as "no key"
        user, _, _password = decoded.partition(":")
        return user
    return ""


def unauthorized(field: str, message: str) -> ApiError:
    """The 401 every key check answers (with the Basic challenge SDKs and browsers know)."""
    return ApiError(
        401,
        "unauthorized",
        field,
        message,
        headers={"WWW-Authenticate": 'Basic realm="sojourn"'},
    )


def check_key(ring: KeyRing, candidate: str | None, *, what: str = "write key") -> str:
    """The key id of ``candidate``, or raise the 401 (missing and wrong keys read alike).

    Raises:
        ApiError: 401 naming the ``Authorization`` header.
    """
    ident = ring.match(candidate)
    if ident is None:
        if candidate is None:
            raise unauthorized(
                "authorization",
                f"a {what} is required: HTTP Basic with the key as user name and an empty "
                "password (as Segment's SDKs send it), or Authorization: Bearer KEY",
            )
        raise unauthorized("authorization", f"the {what} is not valid")
    return ident


def require_key(ring: Callable[[Request], KeyRing], *, what: str = "key") -> Callable:
    """A FastAPI dependency that accepts only a key of ``ring(request)`` in the header.

    It stores the key id on ``request.state.key_id`` (for logs) and returns it. Ingestion
    uses :func:`check_key` directly because it also accepts ``writeKey`` in the body.
    """

    async def dependency(request: Request) -> str:
        ident = check_key(ring(request), header_key(request), what=what)
        request.state.key_id = ident
        return ident

    return dependency


async def authorised_body(request: Request, limit: int, what: str) -> Any:
    """The JSON body of a call whose write key is good (header first, then ``writeKey``).

    Raises:
        ApiError: 401 without a good key, 429 over the key's rate, or the body's own refusal
            (400, 413, 415) when the header's key is good.
    """
    ring: KeyRing = request.app.state.write_keys
    limiter: RateLimiter = request.app.state.rate_limiter
    given = header_key(request)
    if given is not None:
        request.state.key_id = check_key(ring, given)
        limiter.check(request.state.key_id)
        return await read_json(request, limit, what)
    try:
        body = await read_json(request, limit, what)
    except ApiError as exc:
        # No key in the header and a body that cannot be read cannot hold one: unauthenticated.
        raise unauthorized(
            "authorization",
            f"a write key is required, and none could be read from the body ({exc.message}); "
            "send it as HTTP Basic with the key as user name and an empty password, or "
            "Authorization: Bearer KEY",
        ) from exc
    in_body = body.get("writeKey") if isinstance(body, dict) else None
    request.state.key_id = check_key(ring, in_body if isinstance(in_body, str) else None)
    limiter.check(request.state.key_id)
    return body
