"""The audience step's webhook: HMAC signature, hashed identifiers only, retries, once per step."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.audience_models import AudienceSynced, SyncAudience
from activities.audiences import AudienceActivities
from activities.channels.settings import Audience
from activities.policy import MessagingPolicy
from activities.providers import OutboxProvider
from store import Store
from tests.channels.conftest import add_contact
from worker.cli_outbox import as_row
from worker.registry import unconfigured_audiences
from worker.sandbox_servers import SECRET, AudienceRecorded
from worker.settings import Settings


@dataclass
class Case:
    """A contact, the audience receiver, and what calls it."""

    store: Store
    policy: MessagingPolicy
    client: httpx.AsyncClient
    url: str
    recorded: AudienceRecorded
    contact: str

    def acts(self, secret: str = SECRET) -> AudienceActivities:
        """The activities with ``retargeting`` at the receiver, signing with ``secret``."""
        audiences = {"retargeting": Audience(url=f"{self.url}/hooks/retargeting", secret=secret)}
        return AudienceActivities(self.store, audiences, self.policy, self.client)


@pytest.fixture
async def case(
    hook: tuple[str, AudienceRecorded],
    store: Store,
    policy: MessagingPolicy,
    client: httpx.AsyncClient,
) -> Case:
    url, recorded = hook
    return Case(store, policy, client, url, recorded, await add_contact(store))


def sync(contact: str, action: str = "add", **fields: object) -> SyncAudience:
    values: dict[str, object] = dict(
        key=f"test/{contact}/{uuid.uuid4().hex[:6]}",
        contact_id=contact,
        journey="cart_escalation",
        step="05-audience-add-retargeting",
        audience="retargeting",
        action=action,
    )
    values.update(fields)
    return SyncAudience.model_validate(values)


async def run(acts: AudienceActivities, req: SyncAudience) -> AudienceSynced:
    return await ActivityEnvironment().run(acts.sync_audience, req)


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def test_body_carries_hashes_only_and_is_signed(case: Case) -> None:
    store, recorded, contact = case.store, case.recorded, case.contact
    await store.contacts.identify(
        contact, {"email": "  Ada.Lovelace@Example.COM "}, datetime.now(UTC)
    )
    acts = case.acts()
    req = sync(contact)
    first = await run(acts, req)
    again = await run(acts, req)
    assert first.status == "sent" and again.message_id == first.message_id
    [(headers, body)] = recorded.calls  # once per step
    assert recorded.verified == [True]
    assert headers["idempotency-key"] == req.key
    assert body["action"] == "add" and body["audience"] == "retargeting"
    [member] = body["members"]
    assert member == {
        "email_sha256": sha("ada.lovelace@example.com"),
        "phone_sha256": sha("+33612345678"),
    }
    raw = json.dumps(body) + json.dumps(headers)
    for plain in ("lovelace", "Lovelace", "612345678", "06 12"):
        assert plain not in raw


async def test_a_forged_signature_would_not_verify(case: Case) -> None:
    recorded, contact = case.recorded, case.contact
    acts = case.acts(secret="wrong")
    with pytest.raises(ApplicationError) as info:
        await run(acts, sync(contact))
    # The receiver refused (401): a 4xx fails the step for good.
    assert info.value.non_retryable and recorded.verified == [False]


async def test_5xx_is_retried_with_the_same_body_and_key(case: Case) -> None:
    recorded, contact = case.recorded, case.contact
    recorded.fail_first = 1
    acts = case.acts()
    req = sync(contact)
    with pytest.raises(ApplicationError) as info:
        await run(acts, req)
    assert not info.value.non_retryable and info.value.next_retry_delay is not None
    assert (await run(acts, req)).status == "sent"
    (h1, b1), (h2, b2) = recorded.calls
    assert b1 == b2 and h1["idempotency-key"] == h2["idempotency-key"] == req.key
    assert len(recorded.accepted) == 1


async def test_4xx_fails_the_step(case: Case) -> None:
    store, recorded, contact = case.store, case.recorded, case.contact
    recorded.refuse = True
    req = sync(contact)
    with pytest.raises(ApplicationError) as info:
        await run(case.acts(), req)
    assert info.value.non_retryable
    stored = await store.messages.get(req.key)
    assert stored is not None and stored.status == "failed" and stored.channel == "audience"


async def test_adding_needs_consent_removing_never_does(case: Case) -> None:
    store, recorded, contact = case.store, case.recorded, case.contact
    await store.consent.set(
        contact,
        "marketing",
        subscribed=False,
        source="api",
        at=datetime.now(UTC),
        channel="audience",
    )
    acts = case.acts()
    added = await run(acts, sync(contact))
    assert added.status == "refused" and added.reason == "unsubscribed"
    assert (await run(acts, sync(contact, "remove"))).status == "sent"
    [(_, body)] = recorded.calls
    assert body["action"] == "remove"


async def test_an_unconfigured_audience_goes_to_the_outbox_outside_production(
    store: Store, policy: MessagingPolicy, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    contact = await add_contact(store, phone="+33612345678")
    acts = AudienceActivities(store, {}, policy, client, outbox=tmp_path)
    req = sync(contact)
    added = await run(acts, req)
    assert added.status == "sent"
    assert (await run(acts, req)).message_id == added.message_id, "once per step"
    [path] = list(tmp_path.glob("*.audience.json"))
    assert path.name == f"{added.message_id}.audience.json"
    body = json.loads(path.read_text())
    assert body["action"] == "add" and body["audience"] == "retargeting"
    assert body["members"] == [
        {"email_sha256": sha(f"{contact}@example.com"), "phone_sha256": sha("+33612345678")}
    ]
    message = await store.messages.get(req.key)
    assert message is not None
    assert (message.channel, message.status, message.provider) == ("audience", "sent", "outbox")
    # `sojourn outbox --channel audience --json` points at the file.
    assert as_row(message, OutboxProvider(tmp_path))["eml"] == str(path.absolute())


async def test_an_unknown_audience_fails_naming_the_setting(
    store: Store, policy: MessagingPolicy, client: httpx.AsyncClient
) -> None:
    contact = await add_contact(store)
    acts = AudienceActivities(store, {}, policy, client)
    with pytest.raises(ApplicationError) as info:
        await run(acts, sync(contact))
    assert info.value.type == "UnknownAudience" and info.value.non_retryable
    assert "'retargeting'" in str(info.value) and "SOJOURN_AUDIENCES" in str(info.value)


def test_the_worker_names_the_audiences_journeys_use_that_are_not_configured() -> None:
    hook = Audience(url="https://ads.example/hook", secret="s")
    assert unconfigured_audiences(Settings(env="test")) == ["retargeting"]
    assert unconfigured_audiences(Settings(env="test", audiences={"retargeting": hook})) == []
