"""Date-based entry: start a yearly journey for contacts whose date is due, once a year.

A contact is due when, in their own timezone, today is their date and the local hour has
reached the journey's hour. Local time comes from ``zoneinfo``, so the hour is right on both
sides of a daylight-saving change; a run missed in the due hour (a worker down) is caught up
by a later run the same local day. A 29 February date is celebrated on 28 February in other
years. The year recorded is the contact's local year, so a contact is entered at most once a
year however often the schedule runs.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from temporalio import activity

from activities.date_models import DATE_ENTRY_PAGE, DateEntryDone, DateEntryPage
from store import Store
from store.dates import DatesRepo

log = structlog.get_logger(__name__)


class Starter(Protocol):
    """Starts a journey by name for a contact (the router)."""

    async def start(
        self, name: str, contact_id: str, time_scale: float | None = None
    ) -> tuple[str, bool]: ...


def zone(name: str | None, default: str) -> ZoneInfo:
    """The contact's timezone, or ``default`` when missing or unknown."""
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def date_in(year: int, day: date) -> date:
    """``day``'s anniversary in ``year`` (29 February → 28 February in common years)."""
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return day.replace(year=year)


def due_year(day: date, tz: ZoneInfo, now: datetime, hour: int) -> int | None:
    """The local year whose anniversary is due at ``now``, or None when not due."""
    local = now.astimezone(tz)
    if local.date() == date_in(local.year, day) and local.hour >= hour:
        return local.year
    return None


class DateActivities:
    """The date entry activity; store, starter and default timezone injected once."""

    def __init__(self, store: Store, starter: Starter, default_timezone: str = "UTC") -> None:
        self.dates = DatesRepo(store.engine)
        self.starter = starter
        self.default_timezone = default_timezone

    @activity.defn(name=DATE_ENTRY_PAGE)
    async def date_entry_page(self, request: DateEntryPage) -> DateEntryDone:
        """Start the journey for the due contacts of the next page; record their year.

        Starting first and recording after makes a retry harmless: a contact started but
        not recorded is refused by the journey's id (it is running) and recorded then.
        """
        page = await self.dates.around(
            request.journey, request.field, request.now, after=request.after, limit=request.limit
        )
        due: list[tuple[str, int]] = []
        started = refused = 0
        for item in page:
            tz = zone(item.timezone, self.default_timezone)
            year = due_year(item.day, tz, request.now, request.hour)
            if year is None or item.entered_year == year:
                continue
            _, ok = await self.starter.start(
                request.journey, item.contact_id, time_scale=request.time_scale
            )
            started += ok
            refused += not ok
            due.append((item.contact_id, year))
        await self.dates.record_entries(request.journey, due, request.now)
        if due:
            log.info("date entries", journey=request.journey, started=started, refused=refused)
        after = page[-1].contact_id if len(page) == request.limit else None
        return DateEntryDone(after=after, started=started, refused=refused)
