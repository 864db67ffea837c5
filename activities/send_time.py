"""Send-time optimisation: each contact's best hour, from their own opens and clicks.

``send(..., at="best_time")`` asks :class:`SendTimeActivities.best_send_time` for the moment to
send within the next 24 hours; the journey sleeps until then on a durable timer and sends.

The estimate (:func:`hour_scores`) is a Dirichlet-multinomial posterior over the 24 local hours
of the day: the contact's own opens and clicks counted by local hour, each weighted by recency
(half-life ``HALF_LIFE``, so a contact whose habits changed is followed) and smoothed over
neighbouring hours (``SMOOTHING_HOURS``), plus the population's
profile with the weight of ``PRIOR_STRENGTH`` events. A contact with little history gets the
population's best hour; one with a lot gets their own. The best *allowed* hour wins: hours in
quiet hours (``activities/timing.py``) are never chosen, and local hours are found by stepping
through UTC, so a day with a daylight-saving change has 23 or 25 hours and none twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from temporalio import activity

from activities.attribution import CLICKED, OPENED
from activities.policy import MessagingPolicy
from activities.send_time_models import BEST_SEND_TIME, BestSendTime, SendMoment
from activities.template_filters import zone
from activities.timing import next_send_window
from store import Store
from store._sql import now

HALF_LIFE = timedelta(days=60)
# Habits are "around eight", not "at 08:00 sharp": counts are smoothed over neighbouring hours.
SMOOTHING_HOURS = 1.5
PRIOR_STRENGTH = 4.0
HISTORY = timedelta(days=180)
POPULATION_TTL = timedelta(hours=1)
# A click says more about attention than an open (which image proxies fake).
CLICK_WEIGHT = 2.0


def local_hours(
    moments: Iterable[datetime], tz: ZoneInfo, weights: Iterable[float] | None = None
) -> NDArray[np.float64]:
    """A 24-vector: the (weighted) count of ``moments`` by local hour in ``tz``."""
    counts = np.zeros(24)
    for moment, weight in zip(moments, weights if weights is not None else _ones(), strict=False):
        counts[moment.astimezone(tz).hour] += weight
    return counts


def _ones() -> Iterable[float]:
    while True:
        yield 1.0


def recency_weights(
    moments: Iterable[datetime], at: datetime, half_life: timedelta = HALF_LIFE
) -> list[float]:
    """``0.5 ** (age / half_life)`` for each moment."""
    return [0.5 ** (max((at - m).total_seconds(), 0) / half_life.total_seconds()) for m in moments]


def hour_scores(
    personal: NDArray[np.float64],
    population: NDArray[np.float64],
    strength: float = PRIOR_STRENGTH,
) -> NDArray[np.float64]:
    """Posterior mean share of engagement per hour: personal counts shrunk to the population.

    ``personal`` may be one contact's 24-vector or a (contacts, 24) array (the benchmark's).
    """
    prior = population / population.sum() if population.sum() > 0 else np.full(24, 1 / 24)
    mine = smooth(personal)
    total = mine.sum(axis=-1, keepdims=True)
    return np.asarray((mine + strength * prior) / (total + strength))


def smooth(counts: NDArray[np.float64], width: float = SMOOTHING_HOURS) -> NDArray[np.float64]:
    """Counts spread over neighbouring hours by a Gaussian kernel on the 24-hour circle
    (the total is kept)."""
    offsets = np.arange(-3, 4)
    kernel = np.exp(-(offsets**2) / (2 * width**2))
    kernel /= kernel.sum()
    out = np.zeros_like(counts, dtype=float)
    for offset, weight in zip(offsets, kernel, strict=True):
        out += weight * np.roll(counts, int(offset), axis=-1)
    return out


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
        weights = [
            w * (CLICK_WEIGHT if e.name == CLICKED else 1.0)
            for e, w in zip(own, recency_weights([e.at for e in own], at), strict=True)
        ]
        personal = local_hours([e.at for e in own], tz, weights)
        scores = hour_scores(personal, await self._population_profile(at))
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
        return SendMoment(at=moment, hour=hour, personal_events=float(personal.sum()))

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
