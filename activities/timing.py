"""When may a marketing email leave? Quiet hours and frequency caps, as pure functions.

Quiet hours are computed in the contact's timezone with ``zoneinfo``, so the window follows
daylight-saving changes: 08:00 in Paris is 07:00 UTC in winter and 06:00 UTC in summer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from activities.policy import CapRule
from activities.template_filters import zone


def next_send_window(
    at: datetime, tz: ZoneInfo | str | None, start: time, end: time, days: Sequence[int]
) -> datetime | None:
    """None when ``at`` is inside the local send window, else the next window's opening (UTC).

    Args:
        at: the moment of sending (aware).
        tz: the contact's timezone (name or ZoneInfo); unknown names fall back to UTC.
        start: local opening time of the window (e.g. 08:00).
        end: local closing time (e.g. 21:00, exclusive).
        days: weekdays sends are allowed on (0 = Monday).
    """
    zone_info = tz if isinstance(tz, ZoneInfo) else zone(tz)
    local = at.astimezone(zone_info)
    if not days:
        return None
    if local.weekday() in days and start <= local.time().replace(tzinfo=None) < end:
        return None
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        # Through UTC and back: an opening inside a DST gap moves to the first real moment.
        opening = datetime.combine(day, start, tzinfo=zone_info).astimezone(UTC)
        if opening > at:
            return opening
    return None


def cap_not_before(
    sends: Iterable[datetime], at: datetime, rules: Sequence[CapRule]
) -> datetime | None:
    """None when one more send at ``at`` respects every rule, else the earliest moment it does."""
    history = sorted(sends)
    moment = at
    for _ in range(len(rules) * 4 + 1):
        later = None
        for rule in rules:
            window = timedelta(hours=rule.hours)
            inside = [t for t in history if t > moment - window]
            if len(inside) >= rule.count:
                # When the oldest send that keeps the window full leaves it.
                candidate = inside[-rule.count] + window
                later = candidate if later is None else max(later, candidate)
        if later is None:
            return None if moment == at else moment
        moment = later
    return moment
