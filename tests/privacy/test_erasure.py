"""Erasure on the real stack: journeys end, nothing sends, the store and Temporal keep nothing
readable of the person, everyone else's journeys still decode."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

import store.schema_messaging  # noqa: F401  (every table on the metadata)
import store.schema_privacy  # noqa: F401
from activities.gatekeeper import Gatekeeper
from activities.policy import MessagingPolicy
from store.schema import metadata
from tests.gateway.conftest import eventually
from tests.privacy.conftest import Stack
from worker.codec import PayloadShredded
from workflows.models import JourneyInput, JourneyState

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def zone(open_now: bool) -> str:
    """A fixed-offset zone where it is now well inside (or well outside) 08:00-21:00."""
    hour = datetime.now(UTC).hour
    for offset in range(-12, 15):
        local = (hour + offset) % 24
        if (open_now and 11 <= local <= 17) or (not open_now and 1 <= local <= 5):
            return f"Etc/GMT{-offset:+d}"  # the Etc zones' sign is inverted
    raise AssertionError("every hour has a zone")


class Person:
    """A contact with distinctive values, so a search for them cannot hit anything else."""

    def __init__(self, label: str, *, address: str | None = None, open_now: bool = True) -> None:
        tag = uuid.uuid4().hex[:10]
        self.id = f"{label}-{tag}"
        self.email = address or f"{label}.{tag}@example.com"
        self.first_name = f"Name{tag}"
        self.city = f"City{tag}"
        self.timezone = zone(open_now)

    @property
    def secrets(self) -> list[str]:
        return [self.id, self.email, self.first_name, self.city]

    async def sign_up(self, stack: Stack) -> None:
        traits = {
            "email": self.email,
            "firstName": self.first_name,
            "city": self.city,
            "timezone": self.timezone,
        }
        for path, body in (
            ("/v1/identify", {"userId": self.id, "traits": traits}),
            ("/v1/track", {"userId": self.id, "event": "Signed Up"}),
        ):
            answer = await stack.http.post(path, json=body)
            assert answer.status_code == 200, answer.text


def wf(stack: Stack, person: Person) -> str:
    """The person's welcome journey: Temporal knows them by pseudonymous key only."""
    return stack.settings.contact_keys.workflow_id("welcome", person.id)


async def state(stack: Stack, person: Person) -> JourneyState | None:
    """The journey's state; None while it has not started (any other failure is raised)."""
    handle = stack.client.get_workflow_handle(wf(stack, person))
    try:
        return await handle.query("state", result_type=JourneyState)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return None


async def waiting_for_open(stack: Stack, person: Person) -> bool:
    current = await state(stack, person)
    return current is not None and "Email Opened" in (current.waiting_for or "")


async def deferred(stack: Stack, person: Person) -> bool:
    for message in await stack.store.messages.list(contact_id=person.id):
        not_before, _ = await stack.store.messages.deferral(message.key)
        if message.reason == "quiet_hours" and not_before is not None:
            return True
    return False


async def history_bytes(stack: Stack, workflow_id: str) -> bytes:
    answer = await stack.client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace=stack.settings.temporal_namespace,
            execution=WorkflowExecution(workflow_id=workflow_id),
        )
    )
    return answer.history.SerializeToString()


async def start_input(stack: Stack, workflow_id: str) -> Any:
    history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    return (await stack.client.data_converter.decode(started.input.payloads, [JourneyInput]))[0]


async def every_row(stack: Stack) -> str:
    """Every row of every table, as one string to search."""
    dump = []
    async with stack.store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(sa.select(table))).all():
                dump.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(dump)


async def test_erasure_stops_every_send_and_leaves_nothing_readable(stack: Stack) -> None:
    waiting = Person("timer")
    retrying = Person("retry", address=f"retry.{uuid.uuid4().hex[:8]}@example.com")
    quiet = Person("quiet", open_now=False)
    other = Person("other")
    for person in (waiting, retrying, quiet, other):
        await person.sign_up(stack)

    await eventually(lambda: waiting_for_open(stack, waiting))
    await eventually(lambda: waiting_for_open(stack, other))

    async def retried() -> bool:
        return stack.provider.count(retrying.id) >= 2

    await eventually(retried)
    await eventually(lambda: deferred(stack, quiet))
    assert stack.provider.count(quiet.id) == 0
    # The payloads in the history are encrypted already, before any erasure.
    assert waiting.email.encode() not in await history_bytes(stack, wf(stack, waiting))

    receipts = {}
    for person in (waiting, retrying, quiet):
        answer = await stack.http.delete(f"/v1/contacts/{person.id}", headers=stack.admin())
        assert answer.status_code == 200, answer.text
        receipts[person.id] = answer.json()
    attempts = {p.id: stack.provider.count(p.id) for p in (waiting, retrying, quiet)}

    for person in (waiting, retrying, quiet):
        receipt = receipts[person.id]
        assert receipt["status"] == "erased"
        assert receipt["workflows_ended"] == [wf(stack, person)]
        assert receipt["deleted"]["events"] >= 2 and receipt["deleted"]["contacts"] == 1
        assert receipt["data_keys_destroyed"] == 1
        described = await stack.client.get_workflow_handle(wf(stack, person)).describe()
        assert described.status == WorkflowExecutionStatus.TERMINATED

    # The provider retry would come back within seconds: it does not.
    await asyncio.sleep(4)
    assert {c: stack.provider.count(c) for c in attempts} == attempts

    dump = await every_row(stack)
    for person in (waiting, retrying, quiet):
        for secret in person.secrets:
            assert secret not in dump, f"{secret} is still in the store"
        subject = receipts[person.id]["subject"]
        assert subject in dump  # the pseudonymised withdrawal and the receipt
    assert other.email in dump  # everyone else is untouched

    for person in (waiting, retrying, quiet):
        raw = await history_bytes(stack, wf(stack, person))
        for secret in (person.id, person.email, person.first_name, person.city, "contact_id"):
            assert secret.encode() not in raw
        with pytest.raises(PayloadShredded):
            await start_input(stack, wf(stack, person))
    assert (await start_input(stack, wf(stack, other))).contact_id == other.id
    assert (await state(stack, other)) is not None

    again = await stack.http.delete(f"/v1/contacts/{waiting.id}", headers=stack.admin())
    assert again.status_code == 200
    assert again.json()["status"] == "already_erased"
    assert again.json()["previous"]["deleted"] == receipts[waiting.id]["deleted"]


async def test_a_returning_address_is_not_mailed_without_new_consent(stack: Stack) -> None:
    first = Person("first")
    await first.sign_up(stack)
    await eventually(lambda: waiting_for_open(stack, first))
    answer = await stack.http.delete(f"/v1/contacts/{first.id}", headers=stack.admin())
    assert answer.status_code == 200

    back = Person("back", address=first.email.upper())
    await back.sign_up(stack)

    async def refused() -> bool:
        rows = await stack.store.messages.list(contact_id=back.id)
        return any(m.status == "refused" for m in rows)

    await eventually(refused)
    [message] = await stack.store.messages.list(contact_id=back.id)
    assert message.reason == "suppressed"
    assert all(m.contact_id != back.id for m in stack.provider.sent)

    gates = Gatekeeper(stack.store, MessagingPolicy.from_settings(stack.settings))
    assert (await gates.refusal(back.id, back.email, "marketing")).reason == "suppressed"
    await stack.store.consent.set(
        back.id, "marketing", subscribed=True, source="form", at=datetime.now(UTC)
    )
    assert await gates.refusal(back.id, back.email, "marketing") is None
    # Transactional mail needs no consent, so an erased address still gets it.
    assert await gates.refusal(back.id, back.email, "transactional") is None
