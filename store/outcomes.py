"""Reads for attribution and reports: messages sent, the events about them, conversions.

Tracking events (opens, clicks, bounces, unsubscribes) name their message in the ``email_id``
property; conversions are any event name with an optional numeric ``revenue``. The figures are
computed in Python from these rows (see ``activities/attribution.py``), which keeps the SQL
portable between SQLite and PostgreSQL; the reads are bounded by a period.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import reads, utc
from store.jsonsql import typed
from store.schema import contacts, events, messages


class MessageFact(BaseModel):
    """A message as attribution sees it (no content, no address)."""

    message_id: str
    contact_id: str
    journey: str
    step: str
    template: str
    status: str
    at: datetime
    channel: str = "email"


class EventFact(BaseModel):
    """An event as attribution sees it: who, what, when, about which message, how much."""

    contact_id: str
    name: str
    at: datetime
    email_id: str | None = None
    revenue: float | None = None


class OutcomeReads:
    """Bounded reads of messages and events."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = reads(engine)

    async def messages(
        self, *, since: datetime | None = None, journey: str | None = None
    ) -> list[MessageFact]:
        """Messages created since ``since`` (any status), oldest first."""
        at = sa.func.coalesce(messages.c.sent_at, messages.c.created_at)
        stmt = sa.select(
            messages.c.message_id,
            messages.c.contact_id,
            messages.c.journey,
            messages.c.step,
            messages.c.template,
            messages.c.status,
            at.label("at"),
            # A channel column, where the messages table has one; email otherwise.
            messages.c.get("channel", sa.literal("email")).label("channel"),
        ).order_by(messages.c.created_at)
        if since is not None:
            stmt = stmt.where(messages.c.created_at >= utc(since))
        if journey is not None:
            stmt = stmt.where(messages.c.journey == journey)
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [MessageFact.model_validate({**r._mapping, "at": utc(_when(r.at))}) for r in rows]

    async def events(
        self, names: Sequence[str], *, since: datetime | None = None
    ) -> list[EventFact]:
        """Track events named ``names`` since ``since``, oldest first."""
        dialect = self._engine.dialect.name
        stmt = (
            sa.select(
                events.c.contact_id,
                events.c.name,
                events.c.timestamp.label("at"),
                typed(events.c.properties, "email_id", "string", dialect).label("email_id"),
                typed(events.c.properties, "revenue", "number", dialect).label("revenue"),
            )
            .where(events.c.name.in_(list(names)), events.c.type == "track")
            .order_by(events.c.timestamp)
        )
        if since is not None:
            stmt = stmt.where(events.c.timestamp >= utc(since))
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [EventFact.model_validate({**r._mapping, "at": utc(_when(r.at))}) for r in rows]

    async def events_of(
        self, contact_id: str, names: Sequence[str], since: datetime
    ) -> list[EventFact]:
        """One contact's track events named ``names`` since ``since``, oldest first."""
        stmt = (
            sa.select(events.c.contact_id, events.c.name, events.c.timestamp.label("at"))
            .where(
                events.c.contact_id == contact_id,
                events.c.name.in_(list(names)),
                events.c.timestamp >= utc(since),
            )
            .order_by(events.c.timestamp)
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [EventFact.model_validate({**r._mapping, "at": utc(_when(r.at))}) for r in rows]

    async def engagement_hours(
        self, since: datetime, limit: int = 200_000
    ) -> list[tuple[datetime, str | None]]:
        """Everyone's opens and clicks since ``since`` with the contact's timezone (the
        population's send-time profile); the latest ``limit``."""
        stmt = (
            sa.select(events.c.timestamp, contacts.c.timezone)
            .select_from(events.outerjoin(contacts, contacts.c.id == events.c.contact_id))
            .where(
                events.c.name.in_(["Email Opened", "Email Link Clicked"]),
                events.c.timestamp >= utc(since),
            )
            .order_by(events.c.timestamp.desc())
            .limit(limit)
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [(utc(_when(r.timestamp)) or since, r.timezone) for r in rows]


def _when(value: datetime | str) -> datetime:
    # coalesce() loses SQLite's datetime type: the value comes back as ISO text.
    return datetime.fromisoformat(value) if isinstance(value, str) else value
