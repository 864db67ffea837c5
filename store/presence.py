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
  without a call. No row means "unknown" and the journey is signalled, as before this table
  existed (journeys running at the upgrade keep getting their events).

A journey that ends on its own leaves its row saying "maybe running" until the next event finds
it gone: one wasted call per journey run, never a skipped event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import reads, upsert
from store.schema import journey_presence as presence


@dataclass(frozen=True)
class Presence:
    """One journey of one contact, as last known: running unless ``absent``."""

    starts: int
    absent: bool


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

    async def starting(self, journey: str, contact_id: str) -> None:
        """Count a start of ``journey`` for ``contact_id``; call it before asking Temporal."""
        async with self._engine.begin() as conn:
            await conn.execute(
                self._start, {"journey": journey, "contact_id": contact_id, "starts": 1}
            )

    async def of(self, contact_id: str, journeys: Sequence[str]) -> dict[str, Presence]:
        """What is known of these journeys of ``contact_id`` (a journey without a row is
        missing: unknown, so possibly running)."""
        stmt = sa.select(presence.c.journey, presence.c.starts, presence.c.absent).where(
            presence.c.contact_id == contact_id, presence.c.journey.in_(list(journeys))
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {
            row.journey: Presence(starts=row.starts, absent=row.absent == row.starts)
            for row in rows
        }

    async def not_running(self, journey: str, contact_id: str, starts: int | None) -> None:
        """Temporal found no running ``journey``; ``starts`` is the count read before asking
        (None: there was no row, no start counted). Ignored if a start was counted since."""
        count = starts or 0
        async with self._engine.begin() as conn:
            await conn.execute(
                self._absent,
                {"journey": journey, "contact_id": contact_id, "starts": count, "absent": count},
            )
