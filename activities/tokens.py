"""Opaque, HMAC-signed tokens for the links in emails (unsubscribe, tracking, opt-in).

A token is ``base64url(value).base64url(mac)``; the MAC is HMAC-SHA256 under a key derived
from ``secret_key`` and the token's *purpose*, so a click token can never be replayed as an
unsubscribe token. Values are message ids (random hex) or similar ids: no personal data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

MAC_BYTES = 16  # 128 bits: forgery stays out of reach, links stay short


class BadToken(ValueError):
    """A token that was forged, altered, truncated or signed for another purpose."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and verifies tokens with one secret.

    Args:
        secret: the application's ``secret_key``.
    """

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode("utf-8")

    def _mac(self, purpose: str, value: bytes) -> bytes:
        key = hmac.new(self._secret, purpose.encode("utf-8"), hashlib.sha256).digest()
        return hmac.new(key, value, hashlib.sha256).digest()[:MAC_BYTES]

    def sign(self, purpose: str, value: str) -> str:
        """A token carrying ``value`` for ``purpose``."""
        raw = value.encode("utf-8")
        return f"{_b64(raw)}.{_b64(self._mac(purpose, raw))}"

    def unsign(self, purpose: str, token: str) -> str:
        """The value of a genuine token; raises :class:`BadToken` otherwise."""
        try:
            body, mac = token.split(".", 1)
            raw, given = _unb64(body), _unb64(mac)
        except (ValueError, TypeError) as exc:
            raise BadToken("malformed token") from exc
        if not hmac.compare_digest(given, self._mac(purpose, raw)):
            raise BadToken("bad signature")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadToken("malformed token") from exc
