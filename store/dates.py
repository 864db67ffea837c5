"""Date entries in the store: who has an anniversary around now, and who entered this year.

The candidates' query narrows by month and day in SQL (the contact's local date is within a
day of the UTC date, whatever their timezone) and leaves the exact local check to the caller.
The yearly record reuses ``segment_enrollments`` (one row per journey and contact) with
``segment`` set to ``year:<YYYY>``: entering again next year overwrites it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store._sql import reads
from store.schema import contacts, segment_enrollments

DATE_COLUMNS = {"birthday": contacts.c.birthday}


@dataclass(frozen=True)
class Anniversary:
    """A contact whose date falls around now, with what the caller needs to decide."""

    contact_id: str
    day: date
    timezone: str | None
    entered_year: int | None


def year_tag(year: int) -> str:
    """The ``segment`` value that records a yearly entry."""
    return f"year:{year}"


class DatesRepo:
    """Queries of date-based entry (birthdays and other yearly dates)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = reads(engine)

    async def around(
        self,
        journey: str,
        field: str,
        now: datetime,
        *,
        after: str | None = None,
        limit: int = 1000,
    ) -> list[Anniversary]:
        """Contacts whose ``field`` falls on the UTC day before, of or after ``now``."""
        column = DATE_COLUMNS[field]
        days = [(now + timedelta(days=d)).date() for d in (-1, 0, 1)]
        pairs = {(d.month, d.day) for d in days}
        if any(d.month == 2 and d.day == 28 for d in days):
            pairs.add((2, 29))  # celebrated on the 28th in years without a 29th
        month, day = sa.extract("month", column), sa.extract("day", column)
        e = segment_enrollments.c
        entered = sa.and_(e.contact_id == contacts.c.id, e.journey == journey)
        stmt = (
            sa.select(contacts.c.id, column.label("day"), contacts.c.timezone, e.segment)
            .select_from(contacts.outerjoin(segment_enrollments, entered))
            .where(column.is_not(None))
            .where(sa.or_(*(sa.and_(month == m, day == d) for m, d in sorted(pairs))))
            .order_by(contacts.c.id)
            .limit(limit)
        )
        if after is not None:
            stmt = stmt.where(contacts.c.id > after)
        async with self._reads.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            Anniversary(
                contact_id=r.id,
                day=r.day if isinstance(r.day, date) else date.fromisoformat(str(r.day)),
                timezone=r.timezone,
                entered_year=_year(r.segment),
            )
            for r in rows
        ]

    async def record_entries(
        self, journey: str, entries: Sequence[tuple[str, int]], at: datetime
    ) -> None:
        """Remember ``(contact_id, year)`` entries into ``journey`` (replacing older years)."""
        if not entries:
            return
        e = segment_enrollments.c
        async with self._engine.begin() as conn:
            await conn.execute(
                segment_enrollments.delete().where(
                    e.journey == journey, e.contact_id.in_([cid for cid, _ in entries])
                )
            )
            await conn.execute(
                segment_enrollments.insert(),
                [
                    {"journey": journey, "contact_id": c, "segment": year_tag(y), "enrolled_at": at}
                    for c, y in entries
                ],
            )


def _year(segment: str | None) -> int | None:
    if segment and segment.startswith("year:"):
        return int(segment.removeprefix("year:"))
    return None
