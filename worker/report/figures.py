"""The report's figures, computed from the store: funnel, rates by step and arm, conversions,
revenue and ROI, experiments with their intervals and decisions, holdout lift.

Definitions (also in the README):
- ``entered``: contacts the journey sent anything to (any status) in the period, plus, for a
  journey with a holdout, every contact counted by it (held out or treated).
- ``sent`` counts messages with status ``sent``; ``delivered``, ``opened``, ``clicked``,
  ``bounced`` and ``unsubscribed`` count distinct messages with such a tracking event (a click
  counts as an open); rates are over ``sent``.
- ``channels``: the same counts per channel (email, sms, push, audience) of the journey's
  messages; an audience call is "sent" once the ad platform took it.
- Experiments are re-evaluated with their declared minimum sample, horizon and alpha (from the
  journey's ``experiments=``, else the criteria recorded with the last evaluation, else the
  defaults), so the report never decides one earlier than the runtime would.
- ``converted`` and ``revenue``: conversions attributed to the row's messages
  (``activities/attribution.py``); ``cost`` is the cost per message of the message's channel
  times ``sent``; ``roi`` is ``(revenue - cost) / cost``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from activities.attribution import (
    DEFAULT_WINDOWS,
    GOAL,
    TRACKING,
    Conversion,
    Windows,
    attribute,
    engagements,
    score,
)
from activities.experiments import evaluate_experiment
from activities.sequential import Tally, compare, half_width
from store import Store
from store.experiments import Assignment
from store.outcomes import EventFact, MessageFact
from workflows.experiments import HOLDOUT, TREATED, Experiment

COLUMNS = ("sent", "delivered", "opened", "clicked", "bounced", "unsubscribed")


class Row(BaseModel):
    """One journey step (and arm), or one channel: counts, rates, revenue, cost and ROI."""

    step: str = ""
    arm: str = ""
    channel: str = ""
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    revenue: float = 0.0
    unsubscribed: int = 0
    bounced: int = 0
    cost: float = 0.0
    open_rate: float | None = None
    click_rate: float | None = None
    conversion_rate: float | None = None
    roi: float | None = None

    def finish(self) -> Row:
        """Fill the rates and ROI from the counts."""
        if self.sent:
            self.open_rate = self.opened / self.sent
            self.click_rate = self.clicked / self.sent
            self.conversion_rate = self.converted / self.sent
        if self.cost:
            self.roi = (self.revenue - self.cost) / self.cost
        return self


class Day(BaseModel):
    """One day of a journey: sends, opens, clicks and conversions."""

    day: date
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    converted: int = 0


class ArmFigures(BaseModel):
    """An arm: recipients, mean outcome and its always-valid interval."""

    name: str
    n: int
    mean: float
    low: float
    high: float


class ExperimentFigures(BaseModel):
    """An experiment's arms and its decision."""

    name: str
    journey: str
    metric: str
    status: str
    winner: str | None = None
    decided_at: datetime | None = None
    effect: float | None = None
    difference: float | None = None
    low: float | None = None
    high: float | None = None
    arms: list[ArmFigures] = Field(default_factory=list)
    # The criteria it was evaluated with (declared on the experiment).
    min_sample: int = 500
    horizon: int = 20_000
    alpha: float = 0.05


class Lift(BaseModel):
    """Treated vs holdout on the journey's goal, with the interval of the difference."""

    treated: int
    holdout: int
    treated_rate: float
    holdout_rate: float
    lift: float | None
    # None while either group is empty: there is nothing to compare yet.
    low: float | None
    high: float | None
    treated_revenue: float
    holdout_revenue: float


class JourneyFigures(BaseModel):
    """Everything the report shows for one journey."""

    journey: str
    entered: int
    total: Row
    steps: list[Row]
    channels: list[Row] = Field(default_factory=list)
    funnel: list[tuple[str, int]]
    days: list[Day]
    holdout: Lift | None = None


class Report(BaseModel):
    """The whole report."""

    since: datetime
    until: datetime
    journeys: list[JourneyFigures]
    experiments: list[ExperimentFigures]
    # Every journey's messages per channel.
    channels: list[Row] = Field(default_factory=list)


async def build(
    store: Store,
    *,
    since: datetime,
    until: datetime,
    journey: str | None = None,
    costs: Mapping[str, float] | None = None,
    goals: Mapping[str, tuple[str, ...]] | None = None,
    windows: Windows = DEFAULT_WINDOWS,
    declared: Mapping[str, Experiment] | None = None,
) -> Report:
    """The report over ``[since, until]``; experiments are re-evaluated on the way.

    ``goals`` names each journey's conversion events (default: ``Order Completed``);
    ``declared`` the journeys' experiments by name (their metric and decision criteria).
    """
    goals = goals or {}

    def goal_of(name: str) -> tuple[str, ...]:
        return goals.get(name) or (GOAL,)

    messages = await store.outcomes.messages(since=since, journey=journey)
    by_id = {m.message_id: m for m in messages}
    tracking = await store.outcomes.events(list(TRACKING), since=since)
    names = {g for gs in goals.values() for g in gs} | {GOAL}
    goal_events = await store.outcomes.events(sorted(names), since=since)
    tags = await store.experiments.assignments(journey=journey)
    arm_of = {a.message_id: a.arm for a in tags if a.message_id and ":" not in a.experiment}
    flags = engagements(by_id, tracking)
    recent = [a for a in tags if a.assigned_at >= since]
    figures = []
    for name in sorted({m.journey for m in messages} | {a.journey for a in recent}):
        own = [m for m in messages if m.journey == name]
        converted = [e for e in goal_events if e.name in goal_of(name)]
        figures.append(
            _journey(
                name,
                own,
                flags,
                attribute(own, tracking, converted, windows),
                [a for a in recent if a.journey == name],
                arm_of,
                converted,
                costs or {},
                windows,
            )
        )
    experiments = await _experiments(store, recent, goal_of, windows, declared or {})
    channels: dict[str, Row] = {}
    for j in figures:
        for row in j.channels:
            into = channels.setdefault(row.channel, Row(channel=row.channel))
            for column in (*COLUMNS, "converted", "revenue", "cost"):
                setattr(into, column, getattr(into, column) + getattr(row, column))
    return Report(
        since=since,
        until=until,
        journeys=figures,
        experiments=experiments,
        channels=[channels[c].finish() for c in sorted(channels)],
    )


def _journey(
    name: str,
    messages: list[MessageFact],
    flags: Mapping[str, set[str]],
    credited: list[Conversion],
    tags: list[Assignment],
    arm_of: Mapping[str, str],
    goals: list[EventFact],
    costs: Mapping[str, float],
    windows: Windows,
) -> JourneyFigures:
    rows: dict[tuple[str, str], Row] = {}
    by_channel: dict[str, Row] = {}
    total = Row()
    days: dict[date, Day] = {}
    for m in messages:
        key = (m.step, arm_of.get(m.message_id, ""))
        row = rows.setdefault(key, Row(step=key[0], arm=key[1]))
        day = days.setdefault(m.at.date(), Day(day=m.at.date()))
        if m.status != "sent":
            continue
        found = flags.get(m.message_id, set())
        channel = by_channel.setdefault(m.channel, Row(channel=m.channel))
        for target in (row, channel, total):
            target.sent += 1
            target.cost += costs.get(m.channel, 0.0)
            for column in COLUMNS[1:]:
                setattr(target, column, getattr(target, column) + (column in found))
        day.sent += 1
        day.opened += "opened" in found
        day.clicked += "clicked" in found
    step_of = {m.message_id: (m.step, arm_of.get(m.message_id, "")) for m in messages}
    channel_of = {m.message_id: m.channel for m in messages}
    converters = set()
    for c in credited:
        credited_rows = (
            rows.get(step_of[c.message_id]),
            by_channel.get(channel_of[c.message_id]),
            total,
        )
        for found_row in credited_rows:
            if found_row is not None:
                found_row.converted += 1
                found_row.revenue += c.revenue
        days.setdefault(c.at.date(), Day(day=c.at.date())).converted += 1
        converters.add(c.contact_id)
    contacts = {m.contact_id for m in messages} | {a.contact_id for a in tags}
    steps = sorted(rows.values(), key=lambda r: (r.step, r.arm))
    funnel: list[tuple[str, int]] = [("entered", len(contacts))]
    for step in sorted({r.step for r in steps}):
        reached = {m.contact_id for m in messages if m.step == step and m.status == "sent"}
        funnel.append((step, len(reached)))
    funnel.append(("goal", len(converters)))
    return JourneyFigures(
        journey=name,
        entered=len(contacts),
        total=total.finish(),
        steps=[r.finish() for r in steps],
        channels=[by_channel[c].finish() for c in sorted(by_channel)],
        funnel=funnel,
        days=[days[d] for d in sorted(days)],
        holdout=_lift(tags, goals, windows),
    )


def _lift(tags: list[Assignment], goals: list[EventFact], windows: Windows) -> Lift | None:
    counted = [a for a in tags if a.experiment.startswith("holdout:")]
    if not counted:
        return None
    long = Windows(click=windows.click, open=windows.open, conversion=windows.holdout)
    rates = score(counted, "conversion", opened={}, goals=goals, windows=long)
    money = score(counted, "revenue", opened={}, goals=goals, windows=long)
    empty = Tally(n=0, total=0.0)
    t, h = (rates[a].tally if a in rates else empty for a in (TREATED, HOLDOUT))
    diff = compare(TREATED, t, HOLDOUT, h, alpha=0.05, tau=0.1)
    return Lift(
        treated=t.n,
        holdout=h.n,
        treated_rate=t.mean,
        holdout_rate=h.mean,
        lift=diff.lift,
        low=diff.low if t.n and h.n else None,
        high=diff.high if t.n and h.n else None,
        treated_revenue=money[TREATED].total if TREATED in money else 0.0,
        holdout_revenue=money[HOLDOUT].total if HOLDOUT in money else 0.0,
    )


async def _experiments(
    store: Store,
    tags: list[Assignment],
    goal_of: Callable[[str], tuple[str, ...]],
    windows: Windows,
    declared: Mapping[str, Experiment],
) -> list[ExperimentFigures]:
    found = []
    for name in sorted({a.experiment for a in tags if ":" not in a.experiment}):
        stored = await store.experiments.decision(name)
        journey = next(a.journey for a in tags if a.experiment == name)
        spec = declared.get(name)
        metric = spec.metric if spec else stored.metric if stored else "open"
        criteria = _criteria(spec, stored.decision if stored else {})
        if stored is None or stored.status == "running":
            stored = await evaluate_experiment(
                store,
                name,
                journey,
                metric,
                goal=list(goal_of(journey)),
                windows=windows,
                min_sample=criteria["min_sample"],
                horizon=criteria["horizon"],
                alpha=criteria["alpha"],
            )
        body = stored.decision
        arms = []
        for arm, tally in sorted(body.get("arms", {}).items()):
            t = Tally(n=tally["n"], total=tally["total"], total_sq=tally.get("total_sq"))
            arms.append(_arm(arm, t, rate=metric != "revenue"))
        found.append(
            ExperimentFigures(
                name=name,
                journey=journey,
                metric=metric,
                status=stored.status,
                winner=stored.winner,
                decided_at=stored.decided_at,
                effect=body.get("effect"),
                difference=body.get("difference"),
                low=body.get("low"),
                high=body.get("high"),
                arms=arms,
                min_sample=criteria["min_sample"],
                horizon=criteria["horizon"],
                alpha=criteria["alpha"],
            )
        )
    return found


def _criteria(spec: Experiment | None, body: Mapping[str, Any]) -> dict[str, Any]:
    """Minimum sample, horizon and alpha: declared, else as last recorded, else defaults."""
    if spec is not None:
        return {"min_sample": spec.min_sample, "horizon": spec.horizon, "alpha": spec.alpha}
    recorded = body.get("criteria") or {}
    return {
        "min_sample": int(recorded.get("min_sample", 500)),
        "horizon": int(recorded.get("horizon", 20_000)),
        "alpha": float(recorded.get("alpha", 0.05)),
    }


def _arm(name: str, t: Tally, *, rate: bool) -> ArmFigures:
    """An arm's mean with its always-valid interval. For a rate the variance is taken at
    ``(x + 1) / (n + 2)`` (Agresti-Coull's idea), so 3 opens out of 3 is not a zero-width
    certainty, and the interval is clipped to 0-100 %."""
    if not t.n:
        return ArmFigures(name=name, n=0, mean=0.0, low=0.0, high=1.0 if rate else 0.0)
    var = t.variance
    if rate:
        shrunk = (t.total + 1) / (t.n + 2)
        var = shrunk * (1 - shrunk)
    width = float(half_width(var / t.n, var))
    low, high = t.mean - width, t.mean + width
    if rate:
        low, high = max(low, 0.0), min(high, 1.0)
    return ArmFigures(name=name, n=t.n, mean=t.mean, low=low, high=high)


def parse_since(text: str, now: datetime) -> datetime:
    """``30d``, ``12h``, ``2w`` or an ISO date/time, as the start of the period."""
    units = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
    if text and text[-1] in units and text[:-1].isdigit():
        return now - int(text[:-1]) * units[text[-1]]
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)
