"""The relay's and the worker's Temporal clients keep their data keys on the store's own pool.

A key ring on an engine of its own (a pool-less one, before) opened a database connection for
every contact new to the process: on SQLite a file opened, two pragmas and the schema parsed,
a quarter of the gateway's event loop during a burst of sign-ups.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from temporalio.api.common.v1 import Payload
from temporalio.converter import WorkflowSerializationContext
from temporalio.testing import WorkflowEnvironment

from gateway.app import default_router_factory
from store import Store
from worker.codec import EncryptionCodec
from worker.serve import connect_when_ready
from worker.settings import Settings
from worker.temporal import key_ring
from workflows.routing import Router


def _checkouts(store: Store) -> list[Any]:
    seen: list[Any] = []
    sa.event.listen(store.engine.sync_engine, "checkout", lambda *args: seen.append(args))
    return seen


async def _first_encode(codec: Any, settings: Settings, contact: str) -> None:
    assert isinstance(codec, EncryptionCodec)
    workflow_id = settings.contact_keys.workflow_id("welcome", contact)
    context = WorkflowSerializationContext(namespace="default", workflow_id=workflow_id)
    payloads = await codec.with_context(context).encode([_payload()])
    assert payloads[0].metadata.get("encryption-key-id")  # encrypted under the contact's key


def _payload() -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=b'{"x": 1}')


async def test_the_relays_client_creates_a_contacts_data_key_through_the_stores_pool(
    time_env: WorkflowEnvironment, settings: Settings, store: Store
) -> None:
    target = time_env.client.service_client.config.target_host
    settings = settings.model_copy(update={"temporal_address": target})
    router = await default_router_factory(settings, store)()
    assert isinstance(router, Router)
    checkouts = _checkouts(store)

    await _first_encode(router.client.data_converter.payload_codec, settings, "c-new")

    assert checkouts  # the key was created on the store's engine, not on one of its own


async def test_the_workers_client_uses_the_key_ring_it_is_given(
    time_env: WorkflowEnvironment, settings: Settings, store: Store
) -> None:
    target = time_env.client.service_client.config.target_host
    settings = settings.model_copy(update={"temporal_address": target})
    keys = key_ring(settings, store.engine)
    client = await connect_when_ready(settings, timeout=10, keys=keys)
    checkouts = _checkouts(store)

    await _first_encode(client.data_converter.payload_codec, settings, "c-other")

    assert checkouts
    assert keys.reads == 1  # the ring given, not one of the client's own
