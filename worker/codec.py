"""Payload encryption: every Temporal payload Sojourn writes is AES-GCM encrypted with the data
key of the contact it belongs to.

The contact comes from the serialization context Temporal hands the codec (the workflow id of
the workflow, signal, query or activity the payload travels with) through
:func:`workflows.search.owner_of`; payloads of no contact (enrollment runs, schedules) use the
shared system key. Encrypted payloads name their key in metadata, so decoding needs no context.
Payloads that are not encrypted (older histories, the SDK's own checks) pass through unchanged.

Erasing a contact destroys their key: their payloads then decode to an error in the SDK, or to
the readable :data:`SHREDDED` placeholder in the Web UI's codec endpoint.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext

from store.keys import NONCE, SYSTEM, KeyRing
from workflows.search import owner_of

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
SHREDDED = "[shredded: this contact was erased and their data key destroyed]"


class PayloadShredded(RuntimeError):
    """A payload whose data key was destroyed by an erasure: it can never be read again."""


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """Encrypts payloads with the data key of the contact their workflow belongs to.

    Args:
        keys: where data keys live (the store, through a cache).
        owner: whose key encodes; set by :meth:`with_context`, the system key otherwise.
        shredded: ``raise`` :class:`PayloadShredded` on a destroyed key (workers, clients), or
            answer the ``placeholder`` text (the Web UI's codec endpoint).
        encrypt: False for a replayer: what it encodes never leaves the process, so it needs
            (and creates) no data keys.
    """

    def __init__(
        self,
        keys: KeyRing,
        *,
        owner: str = SYSTEM,
        shredded: Literal["raise", "placeholder"] = "raise",
        encrypt: bool = True,
    ) -> None:
        self.keys = keys
        self.owner = owner
        self.shredded = shredded
        self.encrypt = encrypt

    def with_context(self, context: SerializationContext) -> EncryptionCodec:
        """A codec that encrypts for the contact of the context's workflow."""
        workflow_id = getattr(context, "workflow_id", None)
        owner = (owner_of(workflow_id) if workflow_id else None) or SYSTEM
        if owner == self.owner or not self.encrypt:
            return self
        return EncryptionCodec(self.keys, owner=owner, shredded=self.shredded)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload (metadata and data) with the owner's data key."""
        if not payloads or not self.encrypt:
            return list(payloads)
        key_id, key = await self.keys.for_owner(self.owner)
        cipher = AESGCM(key)
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode())
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt encrypted payloads; pass the others through."""
        return [await self._decode(payload) for payload in payloads]

    async def _decode(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        key = await self.keys.by_id(key_id)
        if key is None:
            if self.shredded == "placeholder":
                return Payload(
                    metadata={"encoding": b"json/plain"}, data=json.dumps(SHREDDED).encode()
                )
            raise PayloadShredded(f"payload key {key_id} was destroyed by an erasure")
        try:
            plain = AESGCM(key).decrypt(payload.data[:NONCE], payload.data[NONCE:], key_id.encode())
        except InvalidTag:
            raise PayloadShredded(
                f"payload under key {key_id} does not decrypt: altered, or a different "
                "SOJOURN_MASTER_KEY wrapped its key"
            ) from None
        return Payload.FromString(plain)
