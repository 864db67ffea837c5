"""Consent per contact and topic.

Decision (documented in the README): a contact who signed up is subscribed to marketing topics
until they withdraw (single opt-in). A withdrawal for topic ``*`` covers every topic.
``transactional`` messages ignore marketing consent.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import upsert
from store.schema import consents

ALL_TOPICS = "*"
TRANSACTIONAL = "transactional"


class ConsentRepo:
    """The current consent state per (contact, topic)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def set(
        self, contact_id: str, topic: str, *, subscribed: bool, source: str, at: datetime
    ) -> None:
        """Record a grant or withdrawal; the newest call wins."""
        values = dict(
            contact_id=contact_id, topic=topic, subscribed=subscribed, source=source, updated_at=at
        )
        stmt = upsert(self._engine, consents).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["contact_id", "topic"],
            set_=dict(subscribed=subscribed, source=source, updated_at=at),
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def allowed(self, contact_id: str, topic: str) -> bool:
        """May a message of ``topic`` be sent to this contact now?"""
        if topic == TRANSACTIONAL:
            return True
        stmt = sa.select(consents.c.topic, consents.c.subscribed).where(
            consents.c.contact_id == contact_id, consents.c.topic.in_([topic, ALL_TOPICS])
        )
        async with self._engine.connect() as conn:
            rows = {r.topic: r.subscribed for r in (await conn.execute(stmt)).all()}
        if rows.get(ALL_TOPICS) is False:
            return False
        return rows.get(topic, True)
