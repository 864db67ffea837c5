"""The admin key check: who may read or delete a person's data (erasure, export, codec).

Admin keys (``SOJOURN_ADMIN_KEYS``) are separate from write keys: an app's write key, which
ships inside every SDK, must never be able to export or erase people. Credentials come as the
Segment SDKs send them (HTTP Basic, key as user name) or as ``Authorization: Bearer KEY``, and
are compared in constant time.

Without configured admin keys (allowed in dev and test only; production refuses to start)
the admin endpoints answer loopback clients only, so ``sojourn dev``'s Web UI can use the codec.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Iterable

from fastapi import HTTPException, Request, status

from worker.settings import Settings

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def presented_key(authorization: str | None) -> str | None:
    """The key in an ``Authorization`` header (Basic user name, or Bearer), or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def matches(key: str, keys: Iterable[str]) -> bool:
    """Is ``key`` one of ``keys``? Constant time per comparison, bytes compared."""
    given = key.encode()
    found = False
    for candidate in keys:
        found |= hmac.compare_digest(given, candidate.encode())
    return found


def require_admin(settings: Settings) -> Callable[[Request], None]:
    """A FastAPI dependency that lets only admin keys through (401 without a key or with an
    unknown one, 403 with a write key)."""

    def check(request: Request) -> None:
        key = presented_key(request.headers.get("authorization"))
        if not settings.admin_keys:
            host = request.client.host if request.client else ""
            if key is None and host in LOOPBACK and settings.env != "production":
                return
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED if key is None else status.HTTP_403_FORBIDDEN,
                "admin endpoints need SOJOURN_ADMIN_KEYS set (or a loopback client in dev)",
            )
        if key is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "an admin key is required (HTTP Basic with the key as user name, or Bearer)",
                headers={"WWW-Authenticate": 'Basic realm="sojourn-admin"'},
            )
        if matches(key, settings.admin_keys):
            return
        if matches(key, getattr(settings, "write_keys", ())):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "a write key may not read or delete personal data: use a SOJOURN_ADMIN_KEYS key",
            )
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown admin key",
            headers={"WWW-Authenticate": 'Basic realm="sojourn-admin"'},
        )

    return check
