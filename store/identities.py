"""Anonymous visitors and aliases: other ids of a contact, and the merge of their history.

A call with only an ``anonymousId`` is stored against the anonymous profile
``anon:<anonymousId>``. The first call that names both that ``anonymousId`` and a ``userId``
(usually the identify at sign-in), or an ``alias`` whose ``previousId`` is it, *links* the two:
in one transaction the link is recorded, the anonymous profile's events move to the user (its
computed fields count them: a ``Product Added`` before sign-in is the user's), its traits merge
under the user's (newer wins, per trait), and the anonymous profile goes. The link is recorded
once: linking again does nothing, so the merge happens exactly once however often SDKs repeat
the ids. Later anonymous-only calls with a linked id go straight to the user, and so do the
writes of calls that resolved the id as anonymous while the link was being made: each write to
an anonymous profile checks for the link under a lock the merge shares (:mod:`store.links`),
so no history lands on the anonymous profile after its merge.

Decision: the first link wins. An anonymous id already linked to one user (a shared device) is
not moved to another; calls that carry a ``userId`` always belong to that user.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store._sql import lock_contacts, reads, upsert, utc
from store.computed import event_update
from store.contacts import columns_from_traits, ensure_stmt
from store.links import ANONYMOUS_PREFIX, anonymous_contact
from store.schema import contacts, events, identities
from store.segments import ladder

__all__ = ["ANONYMOUS_PREFIX", "CACHE_MAX", "IdentityRepo", "anonymous_contact", "merge_stamped"]

# Links never change once made, so a process may remember them; bounded to stay small.
CACHE_MAX = 100_000


def merge_stamped(
    traits: dict[str, Any],
    times: dict[str, str],
    other: dict[str, Any],
    other_times: dict[str, str],
) -> tuple[dict[str, Any], dict[str, str]]:
    """``other`` merged into ``traits`` per trait: the later stamp wins, ties keep ``traits``."""
    merged, stamps = dict(traits), dict(times)
    for key, value in other.items():
        theirs = other_times.get(key, "")
        if key in merged and stamps.get(key, "") >= theirs:
            continue
        merged[key] = value
        stamps[key] = theirs
    return merged, stamps


class IdentityRepo:
    """Links from anonymous and previous ids to contacts."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = reads(engine)
        self._known: dict[str, str] = {}

    def _remember(self, other_id: str, contact_id: str) -> None:
        if len(self._known) >= CACHE_MAX:
            self._known.clear()
        self._known[other_id] = contact_id

    async def resolve(self, other_id: str) -> str | None:
        """The contact ``other_id`` is linked to, or None while it is still anonymous."""
        if other_id in self._known:
            return self._known[other_id]
        async with self._reads.connect() as conn:
            found = (
                await conn.execute(
                    sa.select(identities.c.contact_id).where(identities.c.id == other_id)
                )
            ).scalar_one_or_none()
        if found is not None:
            self._remember(other_id, found)
        return found

    async def link(self, other_id: str, contact_id: str, kind: str, at: datetime) -> bool:
        """Link ``other_id`` to ``contact_id`` and merge its anonymous history, once.

        Returns:
            True when this call made the link (and merged); False when it existed already.
        """
        if other_id == contact_id or await self.resolve(other_id) is not None:
            return False
        at = utc(at)
        async with self._engine.begin() as conn:
            if self._engine.dialect.name == "sqlite":
                # Take the write lock first: two calls racing to link must merge once.
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            made = await conn.execute(
                upsert(self._engine, identities)
                .values(id=other_id, contact_id=contact_id, kind=kind, linked_at=at)
                .on_conflict_do_nothing()
            )
            if made.rowcount:
                await self._merge(conn, anonymous_contact(other_id), contact_id, at)
        if not made.rowcount:
            existing = await self.resolve(other_id)
            if existing is not None:
                self._remember(other_id, existing)
            return False
        self._remember(other_id, contact_id)
        return True

    async def _merge(self, conn: AsyncConnection, source: str, target: str, at: datetime) -> None:
        # Before reading: an event of either contact stored meanwhile waits for the merge, and
        # a write for the anonymous profile that waited finds the link and goes to the target
        # (store/links.py): whatever the merge does not see here is never stored on source.
        await lock_contacts(conn, [source, target])
        row = (
            await conn.execute(
                sa.select(contacts.c.traits, contacts.c.trait_times).where(contacts.c.id == source)
            )
        ).first()
        if row is None:
            return  # nothing was stored anonymously
        await conn.execute(ensure_stmt(self._engine, target, at))
        mine = (
            await conn.execute(
                sa.select(contacts.c.traits, contacts.c.trait_times)
                .where(contacts.c.id == target)
                .with_for_update()
            )
        ).one()
        merged, times = merge_stamped(
            mine.traits or {}, mine.trait_times or {}, row.traits or {}, row.trait_times or {}
        )
        if merged != (mine.traits or {}):
            await conn.execute(
                contacts.update()
                .where(contacts.c.id == target)
                .values(traits=merged, trait_times=times, **columns_from_traits(merged))
            )
        moved = (
            await conn.execute(
                sa.select(events.c.name, events.c.properties, events.c.timestamp).where(
                    events.c.contact_id == source, events.c.type == "track"
                )
            )
        ).all()
        await conn.execute(
            events.update().where(events.c.contact_id == source).values(contact_id=target)
        )
        for event in moved:
            # The same fold the append path does, so computed fields count the history once.
            stamp = utc(event.timestamp)
            assert stamp is not None  # events.timestamp is NOT NULL
            await conn.execute(*event_update(target, event.name, event.properties, stamp))
        for stmt in (*ladder.refresh_contact(source), *ladder.refresh_contact(target)):
            await conn.execute(stmt)
        await conn.execute(contacts.delete().where(contacts.c.id == source))
