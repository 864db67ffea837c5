"""The messaging tables (consent ledger, send ledger, frequency slots, suppression) on SQLite
and PostgreSQL: the same calls must give the same answers on both."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from store import Store
from store.frequency import FrequencyRepo
from store.records import MessageRecord
from store.suppression import Suppression, SuppressionRepo

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)


def _id(prefix: str) -> str:
    # The PostgreSQL store is shared by the session: ids of our own keep tests apart.
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def test_consent_ledger_keeps_every_entry_and_the_newest_wins(db: Store) -> None:
    contact = _id("c")
    assert await db.consent.allowed(contact, "newsletter")
    await db.consent.set(contact, "newsletter", subscribed=False, source="unsubscribe_link", at=T0)
    assert not await db.consent.allowed(contact, "newsletter")
    assert await db.consent.allowed(contact, "product_updates")
    assert await db.consent.allowed(contact, "transactional")
    later = T0 + timedelta(days=1)
    await db.consent.set(contact, "newsletter", subscribed=True, source="form", at=later)
    assert await db.consent.allowed(contact, "newsletter")
    history = await db.consent.history(contact)
    assert [(e.source, e.at) for e in history] == [("unsubscribe_link", T0), ("form", later)]


async def test_send_ledger_stores_a_key_once_and_claims_it_once(db: Store) -> None:
    key = _id("wf") + "/01-welcome/hello"
    record = MessageRecord(
        key=key,
        message_id=uuid.uuid4().hex,
        contact_id=_id("c"),
        journey="welcome",
        step="01-welcome/hello",
        template="welcome/hello",
        topic="marketing",
        status="prepared",
        created_at=T0,
    )
    first = await db.messages.prepare(record)
    again = await db.messages.prepare(record.model_copy(update={"message_id": uuid.uuid4().hex}))
    assert again.message_id == first.message_id
    claims = await asyncio.gather(*(db.messages.claim(key) for _ in range(5)))
    assert sorted(claims) == [False, False, False, False, True]
    assert await db.messages.mark(key, "sent", at=T0, provider="outbox", provider_id="x.eml")
    stored = await db.messages.get(key)
    assert stored is not None and stored.status == "sent" and stored.sent_at == T0


async def test_racing_frequency_claims_take_one_slot(db: Store) -> None:
    """Two journeys racing for one contact under a 1-per-day cap: one slot, one deferral."""
    frequency = FrequencyRepo(db.engine)
    contact = _id("c")

    def one_per_day(previous: list[datetime], at: datetime) -> datetime | None:
        recent = [t for t in previous if t > at - timedelta(days=1)]
        return max(recent) + timedelta(days=1) if recent else None

    outcomes = await asyncio.gather(
        *(frequency.claim(contact, f"key-{n}", T0, one_per_day) for n in range(6))
    )
    assert outcomes.count(None) == 1
    assert all(o == T0 + timedelta(days=1) for o in outcomes if o is not None)
    assert len(await frequency.sends(contact)) == 1


async def test_suppression_ignores_case_and_keeps_the_first_reason(db: Store) -> None:
    suppressions = SuppressionRepo(db.engine)
    address = f"{_id('u')}@Example.com"
    hard = Suppression(address=address, reason="hard_bounce", source="postmark", at=T0)
    assert await suppressions.add(hard)
    spam = Suppression(address=address.upper(), reason="spam_complaint", source="sendgrid", at=T0)
    assert not await suppressions.add(spam)
    found = await suppressions.get(f"  {address.lower()} ")
    assert found is not None and found.reason == "hard_bounce"
