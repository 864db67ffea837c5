"""The codec and the key ring, without Temporal: encryption, contexts, caching, shredding."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.api.common.v1 import Payload
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext

from store import Store
from store.keys import SYSTEM, KeyRing, StoreNotMigrated, address_hash, destroy_stmt
from worker.codec import EncryptionCodec, PayloadShredded
from workflows.search import owner_of

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"contact_id": "ada"}')


def test_the_key_owner_comes_from_the_workflow_id() -> None:
    assert owner_of("welcome-k3y") == "k3y"
    assert owner_of("cross_sell-k3y") == "k3y"
    assert owner_of("enroll-reactivation-run-2026-12-01T00:00:00Z") is None
    assert owner_of("nohyphen") is None


async def test_payloads_are_encrypted_per_contact_and_shredded_with_the_key(store: Store) -> None:
    keys = KeyRing(store.engine, "m" * 40)
    codec = EncryptionCodec(keys)
    ada = codec.with_context(
        WorkflowSerializationContext(namespace="default", workflow_id="welcome-ada")
    )
    activity = codec.with_context(
        ActivitySerializationContext(
            namespace="default",
            activity_id="1",
            activity_type="deliver_message",
            activity_task_queue="q",
            workflow_id="welcome-ada",
            workflow_type="welcome",
            is_local=False,
        )
    )
    [sealed] = await ada.encode([PLAIN])
    [sealed_too] = await activity.encode([PLAIN])
    [system] = await codec.encode([PLAIN])
    assert b"ada" not in sealed.data
    assert sealed.metadata["encryption-key-id"] == sealed_too.metadata["encryption-key-id"]
    assert sealed.metadata["encryption-key-id"] != system.metadata["encryption-key-id"]
    assert await codec.decode([sealed, system, PLAIN]) == [PLAIN, PLAIN, PLAIN]

    async with store.engine.begin() as conn:
        await conn.execute(destroy_stmt("ada"))
    fresh = EncryptionCodec(KeyRing(store.engine, "m" * 40))
    with pytest.raises(PayloadShredded):
        await fresh.decode([sealed])
    assert await fresh.decode([system]) == [PLAIN]  # other owners are untouched
    placeholder = EncryptionCodec(fresh.keys, shredded="placeholder")
    assert b"shredded" in (await placeholder.decode([sealed]))[0].data


async def test_one_store_read_per_contact(store: Store) -> None:
    keys = KeyRing(store.engine, "m" * 40)
    codec = EncryptionCodec(keys, owner="bob")
    for _ in range(20):
        encoded = await codec.encode([PLAIN, PLAIN])
        assert await codec.decode(encoded) == [PLAIN, PLAIN]
    assert keys.reads == 1
    other = KeyRing(store.engine, "m" * 40)  # another process: one read to decode and encode
    await EncryptionCodec(other).decode(encoded * 5)
    await EncryptionCodec(other, owner="bob").encode([PLAIN])
    assert other.reads == 1


async def test_a_different_master_key_cannot_read_the_keys(store: Store) -> None:
    [sealed] = await EncryptionCodec(KeyRing(store.engine, "m" * 40), owner="cy").encode([PLAIN])
    with pytest.raises(InvalidTag):  # the data key's unwrap
        await EncryptionCodec(KeyRing(store.engine, "x" * 40)).decode([sealed])


def test_address_hashes_ignore_case_and_depend_on_the_key() -> None:
    assert address_hash("m" * 40, " Ada@Example.com") == address_hash("m" * 40, "ada@example.com")
    assert address_hash("m" * 40, "ada@example.com") != address_hash("x" * 40, "ada@example.com")
    assert SYSTEM.startswith("~")  # never a contact part of a workflow id


async def test_an_unmigrated_store_says_to_migrate(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    codec = EncryptionCodec(KeyRing(engine, "m" * 40)).with_context(
        WorkflowSerializationContext(namespace="default", workflow_id="welcome-ada")
    )
    try:
        with pytest.raises(StoreNotMigrated, match="migrate it"):
            await codec.encode([PLAIN])
        with pytest.raises(StoreNotMigrated, match="no data_keys table"):
            await KeyRing(engine, "m" * 40).by_id("k1")
    finally:
        await engine.dispose()
