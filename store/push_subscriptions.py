"""Web push subscriptions per contact: what the browser's ``PushManager.subscribe()`` gave.

A subscription is keyed by its endpoint (a browser re-subscribing with the same endpoint
updates its keys and owner); the push service saying 404/410 for it removes it for good.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import reads, upsert, utc
from store.schema_channels import push_subscriptions


class PushSubscription(BaseModel):
    """One browser's subscription: endpoint and the keys the payload is encrypted with."""

    contact_id: str
    endpoint: str
    p256dh: str
    auth: str
    user_agent: str | None = None
    created_at: datetime

    @property
    def id(self) -> str:
        """The row key: SHA-256 of the endpoint (endpoints are long URLs)."""
        return endpoint_id(self.endpoint)

    def info(self) -> dict[str, object]:
        """The ``subscription_info`` shape pywebpush expects."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def endpoint_id(endpoint: str) -> str:
    """The key of a subscription's row."""
    return hashlib.sha256(endpoint.encode()).hexdigest()


class PushSubscriptionRepo:
    """Subscriptions by contact and by endpoint."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = reads(engine)

    async def add(self, sub: PushSubscription) -> None:
        """Store ``sub`` (a known endpoint gets the new owner and keys)."""
        values = {**sub.model_dump(), "id": sub.id}
        stmt = upsert(self._engine, push_subscriptions).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={k: values[k] for k in ("contact_id", "p256dh", "auth", "user_agent")},
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def of(self, contact_id: str) -> list[PushSubscription]:
        """A contact's subscriptions, oldest first."""
        stmt = (
            sa.select(push_subscriptions)
            .where(push_subscriptions.c.contact_id == contact_id)
            .order_by(push_subscriptions.c.created_at)
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        found = []
        for row in rows:
            data = dict(row._mapping)
            data["created_at"] = utc(data["created_at"])
            data.pop("id")
            found.append(PushSubscription.model_validate(data))
        return found

    async def remove(self, endpoint: str, contact_id: str | None = None) -> bool:
        """Drop a subscription (gone at the push service, or unsubscribed); True if it existed."""
        stmt = push_subscriptions.delete().where(push_subscriptions.c.id == endpoint_id(endpoint))
        if contact_id is not None:
            stmt = stmt.where(push_subscriptions.c.contact_id == contact_id)
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def remove_contact(self, contact_id: str) -> None:
        """Drop every subscription of a contact (erasure)."""
        stmt = push_subscriptions.delete().where(push_subscriptions.c.contact_id == contact_id)
        async with self._engine.begin() as conn:
            await conn.execute(stmt)
