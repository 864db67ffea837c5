"""Turning what people do with an email into consent changes, suppressions and events.

Shared by the gateway's unsubscribe, preference, tracking and webhook routers. Events are
appended to the store's event log with the message's attribution (``email_id`` — what
``wait_for(..., about=message)`` matches — plus journey, step and template); the gateway's
relay routes them to the contact's journeys.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from activities.policy import MessagingPolicy
from store import Store
from store._sql import now
from store.consent import ALL_TOPICS, GRANTED, PENDING, WITHDRAWN, ConsentEntry, status_of
from store.records import EventRecord, MessageRecord
from store.suppression import Suppression, SuppressionRepo

UNSUBSCRIBED = "Unsubscribed"


def attribution(message: MessageRecord) -> dict[str, Any]:
    """Properties that tie an event to the message, its journey and step."""
    return {
        "email_id": message.message_id,
        "journey": message.journey,
        "step": message.step,
        "template": message.template,
        "topic": message.topic,
    }


class Engagement:
    """Records consent changes, suppressions and email events for the routers.

    Args:
        store: the contact store.
        policy: topics and their opt-in modes.
    """

    def __init__(self, store: Store, policy: MessagingPolicy) -> None:
        self.store = store
        self.policy = policy
        self.suppressions = SuppressionRepo(store.engine)

    async def topics(self, contact_id: str) -> dict[str, str]:
        """``{topic: granted|withdrawn|pending}`` for every configured topic."""
        rows = await self.store.consent.state(contact_id)
        return {
            topic: status_of(rows, topic, default=self.policy.single_opt_in(topic))
            for topic in self.policy.topics
        }

    async def event(
        self,
        contact_id: str,
        name: str,
        properties: dict[str, Any],
        *,
        event_id: str | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Append an event for the relay; a repeated ``event_id`` is stored once."""
        moment = at or now()
        return await self.store.events.append(
            EventRecord(
                message_id=event_id or uuid.uuid4().hex,
                contact_id=contact_id,
                type="track",
                name=name,
                properties=properties,
                timestamp=moment,
                received_at=now(),
            )
        )

    async def withdraw(
        self,
        contact_id: str,
        topic: str,
        *,
        source: str,
        message: MessageRecord | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> bool:
        """Withdraw ``topic`` (``*``: everything) and tell the journeys; False if already out.

        Idempotent: a second call records nothing and sends no second event.
        """
        if await self._already_out(contact_id, topic):
            return False
        ledger_id = await self.store.consent.record(
            ConsentEntry(
                contact_id=contact_id,
                topic=topic,
                status=WITHDRAWN,
                source=source,
                at=now(),
                ip=ip,
                user_agent=user_agent,
                message_id=message.message_id if message else None,
            )
        )
        properties: dict[str, Any] = {**(attribution(message) if message else {}), "topic": topic}
        properties["source"] = source
        # The journey runtime ends every journey whose topic matches (``*`` ends them all).
        await self.event(contact_id, UNSUBSCRIBED, properties, event_id=f"consent-{ledger_id}")
        return True

    async def _already_out(self, contact_id: str, topic: str) -> bool:
        if topic != ALL_TOPICS:
            status = await self.store.consent.status(contact_id, topic, default=True)
            return status == WITHDRAWN
        rows = await self.store.consent.state(contact_id)
        every = rows.get(ALL_TOPICS)
        # Out of everything, unless a topic was granted again after leaving everything.
        return (
            every is not None
            and every[0] == WITHDRAWN
            and all(status != GRANTED or ledger < every[1] for status, ledger in rows.values())
        )

    async def grant(
        self,
        contact_id: str,
        topic: str,
        *,
        source: str,
        ip: str | None = None,
        user_agent: str | None = None,
        wording_version: str | None = None,
        pending: bool = False,
    ) -> int:
        """Record a grant (or, for double opt-in, a pending request); returns the ledger id."""
        return await self.store.consent.record(
            ConsentEntry(
                contact_id=contact_id,
                topic=topic,
                status=PENDING if pending else GRANTED,
                source=source,
                at=now(),
                ip=ip,
                user_agent=user_agent,
                wording_version=wording_version,
            )
        )

    async def suppress(self, message: MessageRecord, reason: str, source: str) -> None:
        """Put the message's address on the suppression list (hard bounce, complaint)."""
        if message.to_address:
            await self.suppressions.add(
                Suppression(
                    address=message.to_address,
                    reason=reason,
                    source=source,
                    at=now(),
                    message_id=message.message_id,
                )
            )
