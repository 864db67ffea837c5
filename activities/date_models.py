"""Payloads of date-based entry (see ``workflows/dates.py``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

DATE_ENTRY_PAGE = "date_entry_page"


class DateEntryPage(BaseModel):
    """Enter the next page of contacts whose date is due now."""

    journey: str
    field: str
    hour: int
    now: datetime
    after: str | None = None
    limit: int = 1000
    # The pace of the journeys it starts (workflows/clock.py); None: the router's own.
    time_scale: float | None = None


class DateEntryDone(BaseModel):
    """The page's cursor (None: the last page) and counts."""

    after: str | None
    started: int = 0
    refused: int = 0
