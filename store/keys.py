"""Per-contact data keys, envelope-encrypted by the master key, and the keyed hashes privacy
needs (erased addresses, erased contact ids).

The master key (``SOJOURN_MASTER_KEY``) never touches the database: a key-encryption key is
derived from it with HKDF and wraps each 256-bit data key with AES-GCM. Payload encryption
(``worker/codec.py``) asks this ring for a contact's key; erasure deletes the row, after which
nothing can decrypt what was encrypted with it (crypto-shredding).

Keys are cached in process (LRU, with a time-to-live so a key destroyed by another process
stops being used within ``ttl`` seconds); a contact costs at most one store read per ``ttl``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
import uuid
from collections import OrderedDict
from typing import Any, NamedTuple

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.dml import ReturningDelete

from store._sql import now, reads, upsert
from store.schema_privacy import data_keys

PLACEHOLDER_MASTER_KEY = "dev-only-master-key-change-me"
UNMIGRATED = (
    "the contact store has no data_keys table, so payloads cannot be encrypted: migrate it "
    "(`sojourn dev` and `sojourn worker` do on start), or check SOJOURN_DATABASE_URL"
)
# Owner of the shared key for payloads that belong to no contact (enrollment, schedules).
SYSTEM = "~system"
NONCE = 12


def master_key_problem(master_key: str) -> str | None:
    """Why ``master_key`` is not fit for production, or None."""
    if master_key == PLACEHOLDER_MASTER_KEY:
        return "is still the development placeholder"
    if len(master_key.encode()) < 32:
        return "must be at least 32 bytes of random text (e.g. `openssl rand -base64 32`)"
    return None


def derive(master_key: str, purpose: str) -> bytes:
    """A 32-byte key for one ``purpose``, derived from the master key (HKDF-SHA256)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(master_key.encode())


def keyed_hash(master_key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under a key for ``purpose``: stable, not reversible without
    the master key (no dictionary attack on a leaked table)."""
    digest = hmac.new(derive(master_key, purpose), value.encode(), hashlib.sha256).hexdigest()
    return f"{purpose}:{digest}"


def address_hash(master_key: str, address: str) -> str:
    """The keyed hash an erased address is suppressed under (case and spaces ignored)."""
    return keyed_hash(master_key, "addr", address.strip().lower())


def subject_hash(master_key: str, contact_id: str) -> str:
    """The pseudonym an erased contact's receipt and consent withdrawal are kept under."""
    return keyed_hash(master_key, "subj", contact_id)


class DataKey(NamedTuple):
    """A data key and the id payloads name it by."""

    key_id: str
    key: bytes


class _Lru:
    """A small LRU map whose entries expire after ``ttl`` seconds."""

    def __init__(self, size: int, ttl: float) -> None:
        self.size, self.ttl = size, ttl
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str) -> tuple[bool, Any]:
        item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            self._items.pop(key, None)
            return False, None
        self._items.move_to_end(key)
        return True, item[1]

    def put(self, key: str, value: Any) -> None:
        self._items[key] = (time.monotonic() + self.ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def pop(self, key: str) -> None:
        self._items.pop(key, None)


class StoreNotMigrated(RuntimeError):
    """The store has no ``data_keys`` table: it was never migrated (or is the wrong store)."""


def _missing_table(exc: sa.exc.DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return "data_keys" in text and ("no such table" in text or "does not exist" in text)


class KeyRing:
    """Data keys in the store, wrapped by the master key.

    Args:
        engine: the contact store's engine (the ``data_keys`` table).
        master_key: ``SOJOURN_MASTER_KEY``.
        cache_size: data keys kept decrypted in memory.
        ttl: seconds a cached key (or a known-destroyed one) is trusted before the store is
            asked again.
    """

    def __init__(
        self, engine: AsyncEngine, master_key: str, *, cache_size: int = 4096, ttl: float = 60.0
    ) -> None:
        self.engine = engine
        self._reads = reads(engine)
        self._kek = AESGCM(derive(master_key, "kek"))
        self._by_owner = _Lru(cache_size, ttl)
        self._by_id = _Lru(cache_size, ttl)
        self.reads = 0  # store round trips, for tests and benchmarks
        # Built once, executed with parameters: a contact's first journey runs both.
        self._owned = sa.select(data_keys.c.key_id, data_keys.c.wrapped).where(
            data_keys.c.owner == sa.bindparam("owner")
        )
        # Two processes may create the same owner's key at once: the first one wins, and the
        # other reads the winner's key (its insert returns nothing).
        self._create = (
            upsert(engine, data_keys)
            .on_conflict_do_nothing()
            .returning(data_keys.c.key_id, data_keys.c.wrapped)
        )

    def _wrap(self, key_id: str, key: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._kek.encrypt(nonce, key, key_id.encode())

    def _unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        return self._kek.decrypt(wrapped[:NONCE], wrapped[NONCE:], key_id.encode())

    def _remember(self, owner: str, found: DataKey) -> DataKey:
        self._by_owner.put(owner, found)
        self._by_id.put(found.key_id, found.key)
        return found

    async def for_owner(self, owner: str) -> DataKey:
        """The data key of ``owner`` (a contact key, or :data:`SYSTEM`), created on first use."""
        hit, found = self._by_owner.get(owner)
        if hit:
            return found
        self.reads += 1
        try:
            row = await self._find_or_create(owner)
        except sa.exc.DBAPIError as exc:
            if _missing_table(exc):
                raise StoreNotMigrated(UNMIGRATED) from None
            raise
        return self._remember(owner, DataKey(row.key_id, self._unwrap(row.key_id, row.wrapped)))

    async def _find_or_create(self, owner: str) -> Any:
        # A cache miss is mostly an owner new to the store (the first journey of a contact):
        # on PostgreSQL that is one autocommit insert returning what it stored, one round trip
        # (before: BEGIN, SELECT, INSERT, SELECT, COMMIT). A known owner adds one read.
        key_id, key = uuid.uuid4().hex, AESGCM.generate_key(bit_length=256)
        values = dict(key_id=key_id, owner=owner, wrapped=self._wrap(key_id, key), created_at=now())
        # One statement needs no transaction around it on PostgreSQL; SQLite commits in begin().
        postgres = self.engine.dialect.name == "postgresql"
        async with self._reads.connect() if postgres else self.engine.begin() as conn:
            row = (await conn.execute(self._create, values)).first()
            if row is None:
                row = (await conn.execute(self._owned, {"owner": owner})).first()
        assert row is not None
        return row

    async def by_id(self, key_id: str) -> bytes | None:
        """The data key named ``key_id``; None once it was destroyed (or never existed)."""
        hit, key = self._by_id.get(key_id)
        if hit:
            return key
        self.reads += 1
        stmt = sa.select(data_keys.c.owner, data_keys.c.wrapped).where(data_keys.c.key_id == key_id)
        try:
            async with self._reads.connect() as conn:
                row = (await conn.execute(stmt)).first()
        except sa.exc.DBAPIError as exc:
            if _missing_table(exc):
                raise StoreNotMigrated(UNMIGRATED) from None
            raise
        if row is None:
            self._by_id.put(key_id, None)
            return None
        # A worker decodes a contact's payloads before it encodes its answer: one read serves both.
        return self._remember(row.owner, DataKey(key_id, self._unwrap(key_id, row.wrapped))).key

    def forget(self, owner: str, key_ids: list[str] = ()) -> None:  # type: ignore[assignment]
        """Drop ``owner``'s cached key (after erasure destroyed it in the store)."""
        hit, found = self._by_owner.get(owner)
        self._by_owner.pop(owner)
        for key_id in [*key_ids, *([found.key_id] if hit else [])]:
            self._by_id.put(key_id, None)


def destroy_stmt(owner: str) -> ReturningDelete[tuple[str]]:
    """The statement that shreds ``owner``'s data key (run inside the erasure transaction)."""
    return data_keys.delete().where(data_keys.c.owner == owner).returning(data_keys.c.key_id)
