"""Which journeys may be running for a contact, so events skip the ones that are not.

The router signals a running journey with every event it listens to. Most such events (a
``Product Viewed`` that a cart journey would read) meet no running journey at all, and asking
Temporal to find out cost a signal call each: the bulk of the relay's calls under a realistic
mix. This table remembers Temporal's "not running" answer instead, and is safe without locks
(:class:`workflows.routing.Router` reads and writes it through its ``JourneyPresence``):

- Before every start the router counts it (``starts + 1``), so a journey that may have been
  started since the last answer is signalled again.
- When a signal finds no running journey, the count read *before* the call is recorded as
  ``absent``, only if no start counted since (``WHERE starts = read``): a start racing the
  failed signal, from another relay or a hand-over in the worker, always wins.
- ``absent == starts`` means "not running, and nobody started it since": the event is skipped
  without a call.
- No row means "never started" for a contact first seen after presence became complete
  (``presence_since``, revision 0016: from the beginning on a database that was empty, else
  from an hour after the upgrade). For an older contact it means "unknown", and the journey is
  signalled, as before this table existed: journeys running at the upgrade keep their events.

:meth:`PresenceRepo.quiet` answers the same question inside the transaction that stores an
event, so the gateway can store one that only running journeys would read, and none is
running, as routed already: no relay turn (``store.events.EventRepo.append_many``).

A journey that ends on its own leaves its row saying "maybe running" until the next event finds
it gone: one wasted call per journey run, never a skipped event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store._sql import reads, upsert, utc
from store.grouped import GroupCommit
from store.schema import contacts, events, presence_since
from store.schema import journey_presence as presence


@dataclass(frozen=True)
class Presence:
    """One journey of one contact, as last known: running unless ``absent``."""

    starts: int
    absent: bool


NEVER_STARTED = Presence(starts=0, absent=True)


class PresenceRepo:
    """Counts journey starts and remembers Temporal's "not running" answers."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = reads(engine)
        table = upsert(engine, presence)
        self._start = table.on_conflict_do_update(
            index_elements=[presence.c.journey, presence.c.contact_id],
            set_={"starts": presence.c.starts + 1},
        )
        self._absent = table.on_conflict_do_update(
            index_elements=[presence.c.journey, presence.c.contact_id],
            set_={"absent": table.excluded.absent},
            where=presence.c.starts == table.excluded.starts,
        )
        # On SQLite, the relay lanes' presence writes share transactions (store/grouped.py),
        # as the event log's appends and marks do: a burst of entries is a few commits.
        self._writes: GroupCommit[tuple[Any, dict[str, Any]], None] | None = (
            GroupCommit(engine, self._write) if engine.dialect.name == "sqlite" else None
        )
        self._since: datetime | None | bool = False
        self._since_read = False
        contact: sa.BindParameter[str] = sa.bindparam("quiet_contact")
        mine = sa.and_(
            presence.c.contact_id == contact,
            presence.c.journey.in_(sa.bindparam("quiet_journeys", expanding=True)),
        )
        # Built once, executed with parameters (it runs for every such event stored).
        self._quiet = sa.select(
            sa.exists()
            .where(events.c.contact_id == contact, events.c.routed_at.is_(None))
            .label("pending"),
            sa.exists()
            .where(
                mine, sa.or_(presence.c.absent.is_(None), presence.c.absent != presence.c.starts)
            )
            .label("maybe_running"),
            sa.select(sa.func.count()).where(mine).scalar_subquery().label("known"),
            sa.select(contacts.c.created_at)
            .where(contacts.c.id == contact)
            .scalar_subquery()
            .label("created_at"),
        )

        # One row at least (the contact's creation), with each journey's row beside it. Built
        # once as well: the relay reads it for every contact it routes.
        of_contact: sa.BindParameter[str] = sa.bindparam("of_contact")
        one = sa.select(sa.literal(1).label("one")).subquery()
        created = sa.select(contacts.c.created_at).where(contacts.c.id == of_contact)
        self._of = sa.select(
            created.scalar_subquery().label("created_at"),
            presence.c.journey,
            presence.c.starts,
            presence.c.absent,
        ).select_from(
            one.outerjoin(
                presence,
                sa.and_(
                    presence.c.contact_id == of_contact,
                    presence.c.journey.in_(sa.bindparam("of_journeys", expanding=True)),
                ),
            )
        )

    async def _write(self, conn: AsyncConnection, write: tuple[Any, dict[str, Any]]) -> None:
        await conn.execute(*write)

    async def _submit(self, statement: Any, params: dict[str, Any]) -> None:
        if self._writes is not None:
            await self._writes.submit((statement, params))
            return
        async with self._engine.begin() as conn:
            await conn.execute(statement, params)

    async def starting(self, journey: str, contact_id: str) -> None:
        """Count a start of ``journey`` for ``contact_id``; call it before asking Temporal."""
        await self._submit(self._start, {"journey": journey, "contact_id": contact_id, "starts": 1})

    async def _complete_since(self, conn: AsyncConnection) -> datetime | None | bool:
        """``presence_since`` (None: always complete), read once; False: never complete (no
        row, a database migrated by hand)."""
        if not self._since_read:
            since = (await conn.execute(sa.select(presence_since.c.since))).first()
            self._since = False if since is None else utc(since.since)
            self._since_read = True
        return self._since

    async def _complete(self, conn: AsyncConnection, created_at: datetime | None) -> bool:
        """Whether every start of a contact created at ``created_at`` was counted."""
        since = await self._complete_since(conn)
        if since is False or created_at is None:
            return False
        return since is None or utc(created_at) > since  # type: ignore[operator]

    async def _complete_if_new(self, conn: AsyncConnection, created_at: datetime | None) -> bool:
        """:meth:`_complete`, where no profile means a contact first seen now (the event
        being stored creates it; nobody could have started a journey for it before)."""
        return await self._complete(conn, created_at or datetime.now(UTC))

    async def of(self, contact_id: str, journeys: Sequence[str]) -> dict[str, Presence]:
        """What is known of these journeys of ``contact_id``; a journey missing from the
        answer is unknown (possibly running). A journey without a row of a contact whose
        presence is complete is answered as never started (``starts`` 0, absent)."""
        params = {"of_contact": contact_id, "of_journeys": list(journeys)}
        async with self._reads.connect() as conn:
            rows = (await conn.execute(self._of, params)).all()
            complete = bool(rows) and await self._complete(conn, rows[0].created_at)
        known = {
            row.journey: Presence(starts=row.starts, absent=row.absent == row.starts)
            for row in rows
            if row.journey is not None
        }
        if complete:
            for journey in journeys:
                known.setdefault(journey, NEVER_STARTED)
        return known

    async def quiet(self, conn: AsyncConnection, contact_id: str, journeys: Sequence[str]) -> bool:
        """Whether an event of ``contact_id`` that only ``journeys`` would read, if running,
        needs no routing: the contact has no unrouted event (one before it could start one of
        them, and this event must then follow it) and each journey is known not running.

        Run it in the transaction that stores the event, before the insert: on PostgreSQL after
        the contact's lock (``store._sql.lock_contacts``), on SQLite under the write
        lock, so no event of the contact is stored in between.
        """
        row = (
            await conn.execute(
                self._quiet, {"quiet_contact": contact_id, "quiet_journeys": list(journeys)}
            )
        ).one()
        if row.pending or row.maybe_running:
            return False
        return row.known == len(set(journeys)) or await self._complete_if_new(conn, row.created_at)

    async def not_running(self, journey: str, contact_id: str, starts: int | None) -> None:
        """Temporal found no running ``journey``; ``starts`` is the count read before asking
        (None: there was no row, no start counted). Ignored if a start was counted since."""
        count = starts or 0
        await self._submit(
            self._absent,
            {"journey": journey, "contact_id": contact_id, "starts": count, "absent": count},
        )
