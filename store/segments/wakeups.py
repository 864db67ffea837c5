"""Exact wake-ups: when a contact's answer to a rule may next change if nothing else happens.

"No click for 15 days" becomes true 15 days after the last click, with no event to notice it;
"signed up more than 30 days ago" likewise. :func:`WakeupRepo.next_change` computes, for one
contact and one rule, the earliest moment any time-dependent part of the rule can flip:

- a windowed event condition changes when one of the window's events ages out: for counts,
  exactly when the count crosses the threshold (the j-th oldest event leaves at its time +
  window); for sums and averages, when the oldest one leaves;
- a relative time condition on a profile time (``before``/``after``/``within`` N days) flips
  at that time + N days.

The moment is stored in ``segment_wakeups`` (one row per segment and contact, indexed by due
time); a sweep every minute re-evaluates the contacts that are due and stores their next
moment. Re-evaluating at a moment that turns out not to be a crossing is harmless; missing
one is not, so the computation errs early (never late).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store._sql import upsert, utc
from store.grouped import GroupCommit
from store.schema import contacts, events, segment_wakeups
from store.segments.compiler import COLUMNS, TIME, Catalog, Compiler, bound_times, compare
from store.segments.rules import EventCond, Rule, Trait

# A window includes an event of exactly ``now - days``: it leaves just after.
EPSILON = timedelta(seconds=1)
CONTACT = "wake_contact"


class WakeupRepo:
    """The due list of wake-ups, and the computation of each contact's next one."""

    def __init__(self, engine: AsyncEngine, catalog: Catalog) -> None:
        self._engine = engine
        self.catalog = catalog
        w = segment_wakeups.c
        # Built once: the relay stores a wake-up for each timed entry segment an event can
        # change (with the shipped journeys, ``inactive``'s after every ``Email Opened``).
        self._clear = segment_wakeups.delete().where(
            w.segment == sa.bindparam("w_segment"), w.contact_id == sa.bindparam("w_contact")
        )
        insert = upsert(engine, segment_wakeups).values(
            segment=sa.bindparam("w_segment"),
            contact_id=sa.bindparam("w_contact"),
            due_at=sa.bindparam("w_due"),
        )
        self._store = insert.on_conflict_do_update(
            index_elements=["segment", "contact_id"], set_={"due_at": insert.excluded.due_at}
        )
        # On SQLite, concurrent relay lanes share the write (store/grouped.py), rather than
        # a transaction and a turn at the write lock each.
        self._sets = GroupCommit(engine, self._write) if engine.dialect.name == "sqlite" else None
        # Each time condition's look-up, built once per condition with the contact and the
        # window's start as parameters (as store/segments/prepared.py does for memberships):
        # building it for every event was most of the relay's live-segment upkeep.
        self._event_queries: dict[str, tuple[Any, dict[str, tuple[float, bool]]]] = {}
        self._trait_queries: dict[str, Any] = {}

    async def next_change(self, rule: Rule, contact_id: str, now: datetime) -> datetime | None:
        """The earliest moment after ``now`` at which ``rule`` may change with no new event."""
        leaves: list[EventCond | Trait] = []
        self._timed(rule, leaves, set())
        moments: list[datetime] = []
        async with self._engine.connect() as conn:
            for leaf in leaves:
                if isinstance(leaf, EventCond):
                    moment = await self._event_change(conn, leaf, contact_id, now)
                else:
                    moment = await self._trait_change(conn, leaf, contact_id, now)
                if moment is not None and moment > now:
                    moments.append(moment)
        return min(moments, default=None)

    def _timed(self, rule: Rule, out: list[EventCond | Trait], seen: set[str]) -> None:
        kind = rule.kind
        if kind in ("all_of", "any_of", "none_of"):
            for child in rule.rules:  # type: ignore[union-attr]
                self._timed(child, out, seen)
        elif kind in ("segment", "tag"):
            name = rule.name if kind == "segment" else rule.tag  # type: ignore[union-attr]
            table = self.catalog.segments if kind == "segment" else self.catalog.auto_tags
            label = f"{kind} {name}"
            if name in table and label not in seen:
                seen.add(label)
                self._timed(table[name], out, seen)
        elif kind == "event" and rule.days is not None:  # type: ignore[union-attr]
            out.append(rule)  # type: ignore[arg-type]
        elif kind == "trait" and rule.op in ("before", "after", "within"):  # type: ignore[union-attr]
            if rule.days is not None and COLUMNS.get(rule.field) == TIME:  # type: ignore[union-attr]
                out.append(rule)  # type: ignore[arg-type]
        elif kind == "lead_score":
            for lead in self.catalog.lead:
                for part in (lead.per, lead.when):
                    if part is not None:
                        self._timed(part, out, seen)

    def _event_query(self, rule: EventCond) -> tuple[Any, dict[str, tuple[float, bool]]]:
        """The condition's events of one contact, oldest first, and its relative times."""
        key = rule.model_dump_json()
        built = self._event_queries.get(key)
        if built is None:
            compiler = Compiler(
                self._engine.dialect.name, datetime.min, self.catalog, bind_times=True
            )
            query = (
                sa.select(events.c.timestamp)
                .where(events.c.contact_id == sa.bindparam(CONTACT), *compiler._event_filter(rule))
                .order_by(events.c.timestamp)
            )
            built = self._event_queries[key] = (query, dict(compiler.offsets))
        return built

    async def _event_change(
        self, conn: Any, rule: EventCond, contact_id: str, now: datetime
    ) -> datetime | None:
        assert rule.days is not None
        query, offsets = self._event_query(rule)
        params = {CONTACT: contact_id, **bound_times(offsets, now)}
        rows = (await conn.execute(query, params)).scalars()
        stamps: list[datetime] = [t for t in map(utc, rows) if t]
        if not stamps:
            return None
        window = timedelta(days=rule.days)
        if rule.measure != "count":
            return stamps[0] + window + EPSILON
        held = bool(compare(rule.op, float(len(stamps)), rule.value))
        for j, stamp in enumerate(stamps, start=1):
            if bool(compare(rule.op, float(len(stamps) - j), rule.value)) != held:
                return stamp + window + EPSILON
        return None

    async def _trait_change(
        self, conn: Any, rule: Trait, contact_id: str, now: datetime
    ) -> datetime | None:
        assert rule.days is not None
        query = self._trait_queries.get(rule.field)
        if query is None:
            query = self._trait_queries[rule.field] = sa.select(contacts.c[rule.field]).where(
                contacts.c.id == sa.bindparam(CONTACT)
            )
        value = utc((await conn.execute(query, {CONTACT: contact_id})).scalar())
        if value is None:
            return None
        return value + timedelta(days=rule.days) + EPSILON

    # ---- the due list -----------------------------------------------------------------------

    async def set(self, segment: str, contact_id: str, due_at: datetime | None) -> None:
        """Wake ``contact_id`` for ``segment`` at ``due_at`` (None: no wake-up needed)."""
        params = {"w_segment": segment, "w_contact": contact_id, "w_due": due_at}
        if self._sets is not None:
            await self._sets.submit(params)
            return
        async with self._engine.begin() as conn:
            await self._write(conn, params)

    async def _write(self, conn: AsyncConnection, params: dict[str, Any]) -> None:
        await conn.execute(self._clear if params["w_due"] is None else self._store, params)

    async def due(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` (segment, contact) pairs due at ``now``, the longest-due first."""
        w = segment_wakeups.c
        query = (
            sa.select(w.segment, w.contact_id)
            .where(w.due_at <= now)
            .order_by(w.due_at, w.segment, w.contact_id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return [(s, c) for s, c in (await conn.execute(query)).all()]

    async def pending(self, contact_id: str) -> dict[str, datetime]:
        """A contact's wake-ups by segment (for tests and ``contacts show``)."""
        w = segment_wakeups.c
        query = sa.select(w.segment, w.due_at).where(w.contact_id == contact_id)
        async with self._engine.connect() as conn:
            rows: Sequence[Any] = (await conn.execute(query)).all()
        return {s: utc(d) for s, d in rows}
