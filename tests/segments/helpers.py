"""Small builders for segment tests: contacts and events through the store's public API."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from store import Store
from store.records import EventRecord

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
_ids = itertools.count()


def ago(days: float = 0, hours: float = 0) -> datetime:
    """A moment before :data:`NOW`."""
    return NOW - timedelta(days=days, hours=hours)


async def person(store: Store, contact_id: str, *, since: float = 400, **traits: Any) -> None:
    """A contact first seen ``since`` days ago, with ``traits``."""
    await store.contacts.ensure(contact_id, ago(since))
    if traits:
        await store.contacts.identify(contact_id, traits, ago(since))


async def did(
    store: Store, contact_id: str, name: str, *, days: float = 0, times: int = 1, **props: Any
) -> None:
    """``times`` events ``name`` by the contact, ``days`` before NOW."""
    for _ in range(times):
        at = ago(days)
        await store.events.append(
            EventRecord(
                message_id=f"m{next(_ids)}",
                contact_id=contact_id,
                name=name,
                properties=props,
                timestamp=at,
                received_at=at,
            )
        )
