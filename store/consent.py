"""Consent per contact, topic and channel: an append-only ledger with proof, and its state.

Every grant, withdrawal or pending double opt-in is a ledger row that says when, from where
(``form``, ``api``, ``import``, ``unsubscribe_link``, ``preference_centre``, ``double_opt_in``,
``webhook``), which consent wording the person saw, and their IP and user agent where known.
Rows are never updated or deleted. The current state (``consent_state``) is derived from the
ledger in the same transaction as each append, so it can always be rebuilt from the ledger.

Decisions (documented in the README): topics with single opt-in are subscribed from sign-up
until withdrawn; double opt-in topics need a ``granted`` row (after the confirmation link).
A withdrawal for topic ``*`` ("leave everything") covers every topic, until a newer grant of a
topic. ``transactional`` messages ignore marketing consent (never suppression).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import reads, upsert, utc
from store.schema_messaging import consent_ledger, consent_state

ALL_TOPICS = "*"
TRANSACTIONAL = "transactional"
EMAIL = "email"
# The channels consent is kept for, per topic (an email unsubscribe is not an SMS STOP).
CHANNELS = (EMAIL, "sms", "push")
GRANTED, WITHDRAWN, PENDING = "granted", "withdrawn", "pending"


class ConsentEntry(BaseModel):
    """One row of the ledger: a change of consent and its proof."""

    id: int | None = None
    contact_id: str
    topic: str
    channel: str = EMAIL
    status: str
    source: str
    at: datetime
    wording_version: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    message_id: str | None = None


class ConsentRepo:
    """The consent ledger and the state derived from it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = reads(engine)
        # Built once: every send and every sign-up reads a contact's state.
        self._state = sa.select(consent_state).where(
            consent_state.c.contact_id == sa.bindparam("state_contact"),
            consent_state.c.channel == sa.bindparam("state_channel"),
        )

    async def record(self, entry: ConsentEntry) -> int:
        """Append ``entry`` and update the derived state atomically; returns the ledger id."""
        values = entry.model_dump(exclude={"id"})
        async with self._engine.begin() as conn:
            result = await conn.execute(consent_ledger.insert().values(values))
            key = result.inserted_primary_key
            assert key is not None  # an insert of one row always reports its key
            ledger_id = int(key[0])
            state = dict(
                contact_id=entry.contact_id,
                topic=entry.topic,
                channel=entry.channel,
                status=entry.status,
                ledger_id=ledger_id,
                at=entry.at,
            )
            stmt = upsert(self._engine, consent_state).values(state)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["contact_id", "topic", "channel"],
                    set_=dict(status=entry.status, ledger_id=ledger_id, at=entry.at),
                )
            )
        return ledger_id

    async def set(
        self,
        contact_id: str,
        topic: str,
        *,
        subscribed: bool,
        source: str,
        at: datetime,
        channel: str = EMAIL,
        wording_version: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        message_id: str | None = None,
    ) -> int:
        """Record a grant or withdrawal (the newest entry wins); returns the ledger id."""
        return await self.record(
            ConsentEntry(
                contact_id=contact_id,
                topic=topic,
                channel=channel,
                status=GRANTED if subscribed else WITHDRAWN,
                source=source,
                at=at,
                wording_version=wording_version,
                ip=ip,
                user_agent=user_agent,
                message_id=message_id,
            )
        )

    async def state(self, contact_id: str, channel: str = EMAIL) -> dict[str, tuple[str, int]]:
        """Current ``{topic: (status, ledger_id)}`` of a contact on ``channel``."""
        params = {"state_contact": contact_id, "state_channel": channel}
        async with self._reads.connect() as conn:
            rows = (await conn.execute(self._state, params)).all()
        return {r.topic: (r.status, r.ledger_id) for r in rows}

    async def status(
        self, contact_id: str, topic: str, *, channel: str = EMAIL, default: bool = True
    ) -> str:
        """``granted``, ``withdrawn`` or ``pending`` for one topic, ``*`` taken into account.

        ``default`` is the answer for a topic the contact never touched: True for single
        opt-in topics (subscribed from sign-up), False for double opt-in ones.
        """
        return status_of(await self.state(contact_id, channel), topic, default=default)

    async def allowed(
        self, contact_id: str, topic: str, *, channel: str = EMAIL, default: bool = True
    ) -> bool:
        """May a message of ``topic`` be sent to this contact now?"""
        if topic == TRANSACTIONAL:
            return True
        status = await self.status(contact_id, topic, channel=channel, default=default)
        return status == GRANTED

    async def history(self, contact_id: str) -> list[ConsentEntry]:
        """The contact's ledger, oldest first: the proof of every consent decision."""
        stmt = (
            sa.select(consent_ledger)
            .where(consent_ledger.c.contact_id == contact_id)
            .order_by(consent_ledger.c.id)
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        entries = []
        for row in rows:
            data = dict(row._mapping)
            data["at"] = utc(data["at"])
            entries.append(ConsentEntry.model_validate(data))
        return entries


def status_of(rows: dict[str, tuple[str, int]], topic: str, *, default: bool) -> str:
    """``granted``, ``withdrawn`` or ``pending`` for ``topic`` from a contact's :meth:`state`."""
    own, every = rows.get(topic), rows.get(ALL_TOPICS)
    # The newest of the topic's own entry and "leave everything" decides.
    latest = max((r for r in (own, every) if r), key=lambda r: r[1], default=None)
    if latest is None:
        return GRANTED if default else WITHDRAWN
    if latest is every and every[0] == GRANTED and own is None and not default:
        return WITHDRAWN
    return latest[0]
