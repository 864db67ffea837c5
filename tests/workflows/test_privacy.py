"""What Temporal and the logs hold about a person: through the real gateway, a real Temporal
dev server and a welcome journey, personal properties never reach a workflow history, and a
user id that is an email address is in no workflow id, search attribute or log line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from gateway.app import create_app
from store import Store
from tests.conftest import binary
from tests.gateway.conftest import AUTH, WAIT, eventually
from tests.ports import free_port
from worker.cli_journeys import contact_behind, journey_rows
from worker.logging import configure_logging
from worker.settings import Settings
from worker.temporal import data_converter
from worker.worker import build_worker
from workflows import search
from workflows.search import CONTACT_ID

# Every spelling the old denylist let through, and values personal whatever their key.
PROBE: dict[str, Any] = {
    "Email": "probe.one@example.com",
    "user_email": "probe.two@example.com",
    "customer": {"email": "probe.three@example.com", "name": "Gracia Probename", "tier": "gold"},
    "phone_number": "+1 555 010 4477",
    "lastname": "Hopperlastname",
    "full_name": "Gracia Fullname Hopper",
    "firstName": "Graciafirst",
    "E-Mail": "probe.four@example.com",
    "note": "write to probe.five@example.com please",
    "callback": "+33 6 12 34 56 78",
    "items": [{"sku": "SKU-77", "ref": "probe.six@example.com"}, "06 98 76 54 32"],
}
SECRETS = [
    "probe.one@example.com",
    "probe.two@example.com",
    "probe.three@example.com",
    "Gracia Probename",
    "555 010 4477",
    "Hopperlastname",
    "Gracia Fullname Hopper",
    "Graciafirst",
    "probe.four@example.com",
    "probe.five@example.com",
    "12 34 56 78",
    "probe.six@example.com",
    "98 76 54 32",
]
# What a journey may read stays: the filter must not empty the event to pass.
KEPT = ["gold", "SKU-77", "Campaign Spring", "2024-03-01"]


@dataclass
class Stack:
    http: httpx.AsyncClient
    client: Client
    store: Store
    settings: Settings


@pytest.fixture
async def stack(settings: Settings, store: Store) -> AsyncIterator[Stack]:
    """The gateway (real router), a worker and a Temporal dev server with visibility."""
    port = free_port()
    settings = settings.model_copy(
        update={
            "temporal_address": f"127.0.0.1:{port}",
            "relay_interval_seconds": 0.05,
            # Not the development secret: the real wiring must carry the configured one.
            "contact_key_secret": "probe-contact-key-secret-" + "k" * 16,
            "log_level": "DEBUG",
            "log_format": "json",
        }
    )
    env = await WorkflowEnvironment.start_local(
        port=port,
        dev_server_existing_path=binary("temporal"),
        data_converter=data_converter(settings),
        search_attributes=list(search.ALL),
        ui=False,
    )
    app = create_app(settings, store=store)
    try:
        async with (
            build_worker(env.client, store, settings),
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app), base_url="http://gw", auth=AUTH
            ) as http,
        ):
            yield Stack(http, env.client, store, settings)
    finally:
        await asyncio.wait_for(env.shutdown(), WAIT)


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    """Logging as configured in production, captured; capsys outlives the stack's teardown."""


async def sign_up(stack: Stack, user_id: str, properties: dict[str, Any]) -> WorkflowHandle:
    """Identify and sign up over HTTP; the welcome email is sent once the journey runs."""
    traits = {"email": f"mail.{abs(hash(user_id))}@example.com", "firstName": "Grace"}
    for path, body in (
        ("/v1/identify", {"userId": user_id, "traits": traits}),
        ("/v1/track", {"userId": user_id, "event": "Signed Up", "properties": properties}),
    ):
        answer = await stack.http.post(path, json=body)
        assert answer.status_code == 200, answer.text

    async def mailed() -> bool:
        return any(m.status == "sent" for m in await stack.store.messages.list(contact_id=user_id))

    await eventually(mailed)
    key = stack.settings.contact_keys.key(user_id)
    return stack.client.get_workflow_handle(search.workflow_id("welcome", key))


async def history_bytes(handle: WorkflowHandle) -> bytes:
    history = await handle.fetch_history()
    return History(events=history.events).SerializeToString()


def payloads_in(message: Message) -> list[Payload]:
    """Every payload anywhere in a protobuf message (inputs, results, signals, details)."""
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Payload):
                found.append(item)
            elif isinstance(item, Message):
                found.extend(payloads_in(item))
    return found


async def decoded_history_bytes(stack: Stack, handle: WorkflowHandle) -> bytes:
    """The history's payloads as the journey read them (the codec encrypts them at rest)."""
    history = History(events=(await handle.fetch_history()).events)
    codec = stack.client.data_converter.payload_codec
    assert codec is not None
    return b"".join(p.data for p in await codec.decode(payloads_in(history)))


async def test_personal_properties_never_reach_the_history(stack: Stack) -> None:
    properties = {**PROBE, "campaign_name": "Campaign Spring", "signup_date": "2024-03-01"}
    handle = await sign_up(stack, "probe-user-1", properties)
    raw = await history_bytes(handle)
    readable = await decoded_history_bytes(stack, handle)
    for value in KEPT:
        assert value.encode() in readable, f"{value!r} should have reached the journey"
        assert value.encode() not in raw, f"{value!r} is in the history unencrypted"
    leaked = [value for value in SECRETS if value.encode() in raw + readable]
    assert not leaked, f"personal values in the workflow history: {leaked}"
    await handle.terminate("test over")


@pytest.mark.usefixtures("json_logs")
async def test_an_email_user_id_is_in_no_workflow_id_attribute_or_log(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    user_id = "grace.hopper@example.com"
    configure_logging(stack.settings)
    handle = await sign_up(stack, user_id, {"plan": "pro"})
    key = stack.settings.contact_keys.key(user_id)

    description = await handle.describe()
    assert description.typed_search_attributes.get(CONTACT_ID) == key
    found = [e async for e in stack.client.list_workflows(f'ContactId = "{key}"')]
    assert [e.id for e in found] == [handle.id]
    everything = [e async for e in stack.client.list_workflows()]
    for execution in everything:
        shown = f"{execution.id} {execution.typed_search_attributes} {execution.search_attributes}"
        assert user_id not in shown and "grace.hopper" not in shown

    # The operator's way in (userId → journeys) and back (workflow id → userId).
    [row] = await journey_rows(stack.settings, user_id)
    assert row["workflow_id"] == handle.id
    assert await contact_behind(stack.settings, handle.id) == user_id
    assert await contact_behind(stack.settings, key) == user_id
    await handle.terminate("test over")

    err = capsys.readouterr().err
    assert "journey step" in err and "message sent" in err  # workflow.logger and structlog
    assert key in err  # contacts are still traceable in the logs, by key
    assert "grace.hopper" not in err
