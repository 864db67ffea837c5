"""Opaque, encrypted and authenticated tokens for the links in emails.

A token is ``base64url(nonce | AES-256-GCM(issued_at | value))``: nothing in it can be read
without the key (no message id, contact id or topic in clear), nothing can be altered, and it
says when it was made, so a link can expire. Each *purpose* (unsubscribe, open, click, opt-in)
has a key of its own derived from the secret, so a click token never works as an unsubscribe.

Keys rotate: tokens are made with the first secret and read with any of them
(``SOJOURN_SECRET_KEYS=new,old``), so links already in mailboxes keep working until the old
secret is dropped. Tokens of the earlier format (``base64url(value).base64url(hmac)``, value in
clear, no date) are still read, for the links already sent; none is made any more.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Sequence
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAC_BYTES = 16  # the earlier format's truncated HMAC
NONCE_BYTES = 12
STAMP_BYTES = 5  # seconds since 1970, good until the year 36812


class BadToken(ValueError):
    """A token that was forged, altered, truncated, expired or made for another purpose."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadToken("malformed token") from exc


class Signer:
    """Makes and reads tokens with a list of secrets: the first signs, every one verifies.

    Args:
        secrets: the application's secret keys, newest first (one string is one key).
    """

    def __init__(self, secrets: str | Sequence[str]) -> None:
        keys = [secrets] if isinstance(secrets, str) else list(secrets)
        if not keys:
            raise ValueError("at least one secret key is needed to sign links")
        self._secrets = [key.encode("utf-8") for key in keys]

    # ---- the current format --------------------------------------------------------------

    @staticmethod
    def _aead(secret: bytes, purpose: str) -> AESGCM:
        key = hmac.new(secret, b"sojourn token v2\0" + purpose.encode("utf-8"), hashlib.sha256)
        return AESGCM(key.digest())

    def sign(self, purpose: str, value: str, *, now: float | None = None) -> str:
        """A token carrying ``value`` for ``purpose``, dated ``now`` (default: the clock)."""
        stamp = int(time.time() if now is None else now).to_bytes(STAMP_BYTES, "big")
        plain = stamp + value.encode("utf-8")
        # A synthetic nonce (as in SIV): the same value in the same second gives the same
        # token, and a nonce never repeats for two different plaintexts.
        nonce_key = hmac.new(self._secrets[0], b"sojourn token nonce", hashlib.sha256).digest()
        nonce = hmac.new(nonce_key, purpose.encode() + b"\0" + plain, hashlib.sha256).digest()
        sealed = self._aead(self._secrets[0], purpose).encrypt(
            nonce[:NONCE_BYTES], plain, purpose.encode("utf-8")
        )
        return _b64(nonce[:NONCE_BYTES] + sealed)

    def read(self, purpose: str, token: str) -> tuple[str, float | None]:
        """``(value, issued_at)`` of a genuine token (``issued_at`` is None for the earlier,
        undated format); raises :class:`BadToken` otherwise."""
        if "." in token:
            return self._read_legacy(purpose, token), None
        raw = _unb64(token)
        nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        if len(nonce) < NONCE_BYTES or len(sealed) < STAMP_BYTES + 16:
            raise BadToken("malformed token")
        for secret in self._secrets:
            try:
                plain = self._aead(secret, purpose).decrypt(nonce, sealed, purpose.encode())
            except InvalidTag:
                continue
            return _text(plain[STAMP_BYTES:]), float(int.from_bytes(plain[:STAMP_BYTES], "big"))
        raise BadToken("bad signature")

    def unsign(
        self,
        purpose: str,
        token: str,
        *,
        max_age: timedelta | None = None,
        now: float | None = None,
    ) -> str:
        """The value of a genuine token no older than ``max_age`` (None: any age)."""
        value, issued = self.read(purpose, token)
        if max_age is not None and issued is not None:
            age = (time.time() if now is None else now) - issued
            if age > max_age.total_seconds():
                raise BadToken("expired link")
        return value

    # ---- the earlier format, read only ----------------------------------------------------

    def _read_legacy(self, purpose: str, token: str) -> str:
        body, _, mac = token.partition(".")
        raw, given = _unb64(body), _unb64(mac)
        for secret in self._secrets:
            key = hmac.new(secret, purpose.encode("utf-8"), hashlib.sha256).digest()
            expected = hmac.new(key, raw, hashlib.sha256).digest()[:MAC_BYTES]
            if hmac.compare_digest(given, expected):
                return _text(raw)
        raise BadToken("bad signature")


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadToken("malformed token") from exc
