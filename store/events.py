"""The append-only event log, and the routing marks the gateway's relay keeps on it.

An event is unrouted until ``routed_at`` is set; ``routed_at - received_at`` is its route lag.

Appending a new track event also updates its contact's computed fields (orders, spend, last
seen, last open/click) in the same transaction; see :mod:`store.computed`.

On SQLite, appends and routing marks go through a :class:`store.grouped.GroupCommit`: the
gateway's concurrent requests and relay lanes share transactions instead of racing for the
single write lock. PostgreSQL has row locks and many writers; there each call commits alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store._sql import lock_contacts, now, reads, upsert, utc
from store.computed import event_upsert
from store.grouped import GroupCommit
from store.links import linked
from store.presence import PresenceRepo
from store.records import EventRecord
from store.schema import events
from store.segments import ladder

# One event to append: its column values, and the journeys whose absence stores it as routed.
_Append = tuple[dict[str, Any], tuple[str, ...]]
# Times a PostgreSQL batch is stored again under the users its anonymous profiles were linked
# to meanwhile: once is enough unless a user's id is itself an anonymous profile's.
REDIRECTS = 2


class Appended(NamedTuple):
    """What appending one event did."""

    new: bool  # False: its messageId was known, nothing was stored
    relay: bool  # stored unrouted: the relay has it to route


def _record(row: sa.Row) -> EventRecord:
    data = dict(row._mapping)
    for field in ("timestamp", "received_at", "routed_at", "original_timestamp"):
        data[field] = utc(data[field])
    return EventRecord.model_validate(data)


class EventRepo:
    """Events by ``messageId``: stored once, routed once."""

    def __init__(self, engine: AsyncEngine, presence: PresenceRepo | None = None) -> None:
        self._engine = engine
        self._reads = reads(engine)
        self._presence = presence or PresenceRepo(engine)
        grouped = engine.dialect.name == "sqlite"
        self._appends = (
            GroupCommit(engine, self._insert_linked, apply_many=self._insert_group)
            if grouped
            else None
        )
        # Built once, executed with parameters: storing an event does not rebuild (and re-key
        # for SQLAlchemy's compiled cache) the same expressions every time.
        self._insert_stmt = upsert(engine, events).on_conflict_do_nothing()
        self._ladder = ladder.refresh(sa.bindparam("ladder_contact"), sa.bindparam("ladder_name"))
        self._dialect = engine.dialect.name
        self._marks = GroupCommit(engine, self._mark) if grouped else None
        self._mark_stmt = (
            events.update()
            .where(events.c.seq.in_(sa.bindparam("mark_seqs", expanding=True)))
            .values(routed_at=sa.bindparam("mark_at"))
        )
        self._known_many = sa.select(events.c.message_id).where(
            events.c.message_id.in_(sa.bindparam("known_ids", expanding=True))
        )
        self._known = (
            sa.select(events.c.seq).where(events.c.message_id == sa.bindparam("known_id")).limit(1)
        )
        self._pending_for = (
            sa.select(events)
            .where(
                events.c.contact_id == sa.bindparam("pending_contact"),
                events.c.routed_at.is_(None),
            )
            .order_by(events.c.seq)
            .limit(sa.bindparam("pending_limit", type_=sa.Integer))
        )

    def _values(self, event: EventRecord, routed: bool) -> dict[str, Any]:
        values = event.model_dump(exclude={"seq"})
        values["timestamp"] = utc(event.timestamp)
        values["received_at"] = utc(event.received_at)
        values["original_timestamp"] = utc(event.original_timestamp)
        values["routed_at"] = now() if routed else None
        return values

    async def _insert_linked(self, conn: AsyncConnection, item: _Append) -> Appended:
        """:meth:`_insert` under SQLite's write lock, for the user if the anonymous profile it
        names was linked since the caller resolved it (store/links.py)."""
        values, unless_running = item
        moved = await linked(conn, [values["contact_id"]])
        if moved:
            values = {**values, "contact_id": moved[values["contact_id"]]}
        return await self._insert(conn, (values, unless_running))

    async def _insert(self, conn: AsyncConnection, item: _Append) -> Appended:
        values, unless_running = item
        if unless_running and await self._presence.quiet(
            conn, values["contact_id"], unless_running
        ):
            values = {**values, "routed_at": now()}
        new = bool((await conn.execute(self._insert_stmt, values)).rowcount)
        if new:
            # Same transaction: the recent-event ladder whole-base rules read stays exact.
            which = {"ladder_contact": values["contact_id"], "ladder_name": values["name"]}
            for refresh in self._ladder:
                await conn.execute(refresh, which)
        if new and values["type"] == "track":
            # Same transaction: a computed field never misses or double-counts an event.
            # The profile is created here when the event is the contact's first.
            await conn.execute(
                *event_upsert(
                    self._dialect,
                    values["contact_id"],
                    values["name"],
                    values["properties"],
                    values["timestamp"],
                )
            )
        return Appended(new, relay=new and values["routed_at"] is None)

    async def _insert_group(self, conn: AsyncConnection, items: list[_Append]) -> list[Appended]:
        """:meth:`_insert_linked` for each of a group in turn, with the same outcome, in a
        few statements for the whole group where it can (:meth:`_insert_run`).

        An event with ``unless_running`` is stored on its own, in its place: whether it needs
        routing reads what the events before it stored (their contact, an unrouted one).
        """
        appended: list[Appended] = []
        run: list[_Append] = []
        for item in items:
            if item[1]:
                appended += await self._insert_run(conn, run)
                run = []
                appended.append(await self._insert_linked(conn, item))
            else:
                run.append(item)
        return appended + await self._insert_run(conn, run)

    async def _insert_run(self, conn: AsyncConnection, items: list[_Append]) -> list[Appended]:
        """Events with no presence check, each statement once for all of them: one look-up
        of the known ``messageId``s, one insert of the new rows, the ladder's two statements
        for their (contact, name) pairs and the computed fields' upsert per kind of event,
        each an ``executemany``. About 5 statements for a group, where one by one is 4 an
        event; rebuilding a pair's ladder once after all its rows equals doing it after each,
        and the computed fields' folds (latest, earliest, counts, sums) do not depend on order.
        """
        if len(items) < 2:  # one event: the look-up would only add a statement
            return [await self._insert_linked(conn, item) for item in items]
        moved = await linked(conn, [values["contact_id"] for values, _ in items])
        rows = [
            {**values, "contact_id": moved.get(values["contact_id"], values["contact_id"])}
            for values, _ in items
        ]
        ids = [row["message_id"] for row in rows]
        known = set((await conn.execute(self._known_many, {"known_ids": ids})).scalars())
        new: list[bool] = []
        for message_id in ids:  # a messageId twice in the group: the first one is stored
            new.append(message_id not in known)
            known.add(message_id)
        stored = [row for row, is_new in zip(rows, new, strict=True) if is_new]
        if stored:
            await conn.execute(self._insert_stmt, stored)
            pairs = dict.fromkeys((row["contact_id"], row["name"]) for row in stored)
            which = [{"ladder_contact": c, "ladder_name": n} for c, n in pairs]
            for refresh in self._ladder:
                await conn.execute(refresh, which)
            folds: dict[Any, list[dict[str, Any]]] = {}
            for row in stored:
                if row["type"] == "track":
                    statement, params = event_upsert(
                        self._dialect,
                        row["contact_id"],
                        row["name"],
                        row["properties"],
                        row["timestamp"],
                    )
                    folds.setdefault(statement, []).append(params)
            for statement, params_list in folds.items():
                await conn.execute(statement, params_list)
        return [
            Appended(is_new, relay=is_new and row["routed_at"] is None)
            for row, is_new in zip(rows, new, strict=True)
        ]

    async def append(self, event: EventRecord, *, routed: bool = False) -> bool:
        """Store ``event`` unless its ``message_id`` is known; True when it was new."""
        [appended] = await self.append_many([event], routed=[routed])
        return appended.new

    async def append_many(
        self,
        records: Sequence[EventRecord],
        *,
        routed: Sequence[bool] | None = None,
        unless_running: Sequence[Sequence[str]] | None = None,
    ) -> list[Appended]:
        """Store ``records`` in this order (as :meth:`append` each); per record whether it
        was new and whether it waits for the relay.

        Args:
            routed: per record, whether it is stored as routed already (nothing to route).
            unless_running: per record, journeys that would only be signalled with it: when
                none of them may be running for its contact and the contact has no unrouted
                event, it is stored as routed (:meth:`store.presence.PresenceRepo.quiet`).
        """
        flags = routed if routed is not None else [False] * len(records)
        journeys = unless_running if unless_running is not None else [()] * len(records)
        items = [
            (self._values(r, f), tuple(j)) for r, f, j in zip(records, flags, journeys, strict=True)
        ]
        if self._appends is not None:
            return await self._appends.submit_many(items)
        redirects = 0
        while True:
            ids = [values["contact_id"] for values, _ in items]
            async with self._engine.begin() as conn:
                await lock_contacts(conn, ids)
                # Under the locks: an anonymous profile linked since the caller resolved it
                # (store/links.py). No statement when the batch names none.
                moved = await linked(conn, ids) if redirects < REDIRECTS else {}
                if not moved:
                    return [await self._insert(conn, item) for item in items]
            # Its events are the user's. Locks are taken in key order, so rather than take the
            # user's now, out of order, the batch is stored again under the user's id (nothing
            # of it was written: the empty transaction only released the locks).
            redirects += 1
            items = [
                ({**v, "contact_id": moved.get(v["contact_id"], v["contact_id"])}, j)
                for v, j in items
            ]

    async def unrouted(self, limit: int = 100) -> list[EventRecord]:
        """The oldest events Temporal has not accepted yet, in arrival order."""
        stmt = (
            sa.select(events)
            .where(events.c.routed_at.is_(None))
            .order_by(events.c.seq)
            .limit(limit)
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_record(r) for r in rows]

    async def pending_for(self, contact_id: str, limit: int = 100) -> list[EventRecord]:
        """One contact's unrouted events, oldest first (what its relay lane routes next)."""
        params = {"pending_contact": contact_id, "pending_limit": limit}
        async with self._reads.connect() as conn:
            rows = (await conn.execute(self._pending_for, params)).all()
        return [_record(r) for r in rows]

    async def has_pending(self, contact_id: str) -> bool:
        """Whether the contact has an event not routed yet."""
        stmt = (
            sa.select(events.c.seq)
            .where(events.c.contact_id == contact_id, events.c.routed_at.is_(None))
            .limit(1)
        )
        async with self._reads.connect() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def pending_contacts(self, limit: int = 500) -> list[str]:
        """Contacts with unrouted events, the longest-waiting first (the relay's catch-up)."""
        first = sa.func.min(events.c.seq)
        stmt = (
            sa.select(events.c.contact_id)
            .where(events.c.routed_at.is_(None))
            .group_by(events.c.contact_id)
            .order_by(first)
            .limit(limit)
        )
        async with self._reads.connect() as conn:
            return list((await conn.execute(stmt)).scalars())

    async def mark_routed(self, seqs: Sequence[int], at: datetime | None = None) -> None:
        """Record that these events reached their journeys."""
        if not seqs:
            return
        marks = (list(seqs), at or now())
        if self._marks is not None:
            await self._marks.submit(marks)
            return
        async with self._engine.begin() as conn:
            await self._mark(conn, marks)

    async def _mark(self, conn: AsyncConnection, marks: tuple[list[int], datetime]) -> None:
        seqs, at = marks
        await conn.execute(self._mark_stmt, {"mark_seqs": seqs, "mark_at": at})

    async def mark_dead(self, seq: int, error: str, at: datetime | None = None) -> None:
        """Give up routing an event Temporal refuses for good (kept, with the reason)."""
        stmt = (
            events.update()
            .where(events.c.seq == seq)
            .values(routed_at=at or now(), route_error=error[:255])
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def known(self, message_id: str) -> bool:
        """Whether an event with this ``messageId`` is stored (a duplicate's cheap check)."""
        async with self._reads.connect() as conn:
            return (await conn.execute(self._known, {"known_id": message_id})).first() is not None

    async def get(self, message_id: str) -> EventRecord | None:
        """One event by ``messageId``."""
        async with self._reads.connect() as conn:
            row = (
                await conn.execute(sa.select(events).where(events.c.message_id == message_id))
            ).first()
        return _record(row) if row else None

    async def for_contact(self, contact_id: str, limit: int = 50) -> list[EventRecord]:
        """A contact's most recent events, newest first."""
        stmt = (
            sa.select(events)
            .where(events.c.contact_id == contact_id)
            .order_by(events.c.seq.desc())
            .limit(limit)
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_record(r) for r in rows]
