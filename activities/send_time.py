"""Send-time optimisation: each contact's best hour, from their own opens and clicks.

``send(..., at="best_time")`` asks :class:`SendTimeActivities.best_send_time` for the moment to
send within the next 24 hours; the journey sleeps until then on a durable timer and sends.

The estimate is the habit model of ``activities/habit_model.py``: a latent preferred reading
hour with the population's profile as its prior (shrinkage), read times spread around it, and at
most one change of habit in the history (recency: recent opens always count, older ones as far
as they agree). The best *allowed* hour wins: hours in quiet hours (``activities/timing.py``)
are never chosen, and local hours are found by stepping through UTC, so a day with a
daylight-saving change has 23 or 25 hours and none twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from temporalio import activity

from activities.attribution import CLICKED, OPENED
from activities.habit_model import CLICK_WEIGHT, habit_scores
from activities.policy import MessagingPolicy
from activities.send_time_models import BEST_SEND_TIME, BestSendTime, SendMoment
from activities.template_filters import zone
from activities.timing import next_send_window
from store import Store
from store._sql import now

HISTORY = timedelta(days=180)
POPULATION_TTL = timedelta(hours=1)


def read_hours(moments: Iterable[datetime], tz: ZoneInfo) -> NDArray[np.float64]:
    """Fractional local hours (08:30 is 8.5) of ``moments`` in ``tz``."""
    local = [m.astimezone(tz) for m in moments]
    return np.array([t.hour + t.minute / 60 + t.second / 3600 for t in local], dtype=float)


def contact_scores(
    events: list[tuple[datetime, bool]], tz: ZoneInfo, population: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The 24 hour scores of one contact from their ``(moment, is_click)`` opens and clicks."""
    newest = sorted(events, key=lambda e: e[0], reverse=True)
    hours = read_hours([m for m, _ in newest], tz)[None, :]
    weights = np.array([[CLICK_WEIGHT if click else 1.0 for _, click in newest]])
    return habit_scores(hours, population, weights)[0]


def best_moment(
    at: datetime,
    tz: ZoneInfo,
    scores: NDArray[np.float64],
    window: tuple[time, time, tuple[int, ...]] | None,
) -> tuple[datetime, int]:
    """The best allowed hour within 24 h of ``at``: ``(moment in UTC, local hour)``.

    Candidates are ``at`` itself and the start of each following UTC hour; quiet hours
    (``window`` = start, end, send days) rule a candidate out. None allowed (a window closed
    for a day): the next opening.
    """
    start = at.replace(minute=0, second=0, microsecond=0)
    candidates = [at] + [start + timedelta(hours=i) for i in range(1, 25)]
    best: tuple[float, datetime, int] | None = None
    for moment in candidates:
        if window is not None and next_send_window(moment, tz, *window) is not None:
            continue
        hour = moment.astimezone(tz).hour
        # Ties go to the earliest: no reason to wait for an hour that is no better.
        if best is None or scores[hour] > best[0] + 1e-12:
            best = (float(scores[hour]), moment, hour)
    if best is None:
        assert window is not None
        opening = next_send_window(at, tz, *window) or at
        return opening, opening.astimezone(tz).hour
    return best[1], best[2]


class SendTimeActivities:
    """Best send times; the store and the messaging policy are injected once by the worker."""

    def __init__(self, store: Store, policy: MessagingPolicy) -> None:
        self.store = store
        self.policy = policy
        self._population: tuple[datetime, NDArray[np.float64]] | None = None

    @activity.defn(name=BEST_SEND_TIME)
    async def best_send_time(self, request: BestSendTime) -> SendMoment:
        """The contact's best moment in the next 24 h, never in quiet hours."""
        at = max(request.at or now(), now())
        contact = await self.store.contacts.get(request.contact_id)
        tz = zone((contact.timezone if contact else None) or self.policy.default_timezone)
        since = at - HISTORY
        own = await self.store.outcomes.events_of(request.contact_id, [OPENED, CLICKED], since)
        events = [(e.at, e.name == CLICKED) for e in own]
        scores = contact_scores(events, tz, await self._population_profile(at))
        quiet = self.policy.quiet_hours and self.policy.is_marketing(request.topic)
        window = (
            (
                self.policy.send_window_start,
                self.policy.send_window_end,
                tuple(self.policy.send_days),
            )
            if quiet
            else None
        )
        moment, hour = best_moment(at, tz, scores, window)
        personal = sum(CLICK_WEIGHT if click else 1.0 for _, click in events)
        return SendMoment(at=moment, hour=hour, personal_events=float(personal))

    async def _population_profile(self, at: datetime) -> NDArray[np.float64]:
        # Everyone's opens and clicks by their own local hour; recomputed hourly at most.
        if self._population is not None and at - self._population[0] < POPULATION_TTL:
            return self._population[1]
        rows = await self.store.outcomes.engagement_hours(at - HISTORY)
        counts = np.zeros(24)
        for moment, timezone in rows:
            counts[moment.astimezone(zone(timezone or self.policy.default_timezone)).hour] += 1
        self._population = (at, counts)
        return counts
