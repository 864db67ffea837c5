"""The experiment activities: assign a contact's arm (sticky, winner-aware) and evaluate.

``assign_arm`` is a local activity (a lookup and an insert, idempotent): a contact already
assigned keeps their arm; otherwise a decided experiment gives the winner (``no_difference``:
the control) and a running one the arm the workflow's hash proposed. The experiment is
re-evaluated at most every ``evaluate_every`` on the way (and by ``sojourn report``), and a
decision, once reached, is recorded for good with its effect and interval.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import structlog
from temporalio import activity

from activities import metrics
from activities.attribution import DEFAULT_WINDOWS, GOAL, TRACKING, Windows, engagements, score
from activities.experiment_models import (
    ASSIGN_ARM,
    HELD_OUT,
    HOLDOUT_PREFIX,
    ArmAssigned,
    ArmsAssigned,
    AssignArm,
    AssignArms,
)
from activities.rendering import Rendered, Renderer, TemplateError, scrub
from activities.sequential import Tally, evaluate
from store import Store
from store._sql import now
from store.experiments import StoredDecision

log = structlog.get_logger(__name__)

EVALUATE_EVERY = timedelta(minutes=10)


async def evaluate_experiment(
    store: Store,
    experiment: str,
    journey: str,
    metric: str,
    *,
    goal: list[str] | None = None,
    arms: list[str] | None = None,
    min_sample: int = 500,
    horizon: int = 20_000,
    alpha: float = 0.05,
    windows: Windows = DEFAULT_WINDOWS,
    at: datetime | None = None,
) -> StoredDecision:
    """Score every arm from the store, run the sequential test and record the outcome."""
    assignments = await store.experiments.assignments(experiment=experiment)
    since = assignments[0].assigned_at if assignments else None
    linked = {a.message_id for a in assignments if a.message_id}
    facts = [m for m in await store.outcomes.messages(since=since) if m.message_id in linked]
    tracking = await store.outcomes.events(list(TRACKING), since=since)
    goals = await store.outcomes.events(goal or [GOAL], since=since)
    opened = engagements({m.message_id: m for m in facts}, tracking)
    scores = score(assignments, metric, opened=opened, goals=goals, windows=windows)
    empty = Tally(n=0, total=0.0)
    tallies = {
        name: scores[name].tally if name in scores else empty for name in arms or sorted(scores)
    }
    decision = evaluate(tallies, alpha=alpha, min_sample=min_sample, horizon=horizon)
    body: dict[str, Any] = decision.model_dump()
    # What decides it, as declared: the report re-evaluates with the same criteria.
    body["criteria"] = {"min_sample": min_sample, "horizon": horizon, "alpha": alpha}
    body["arms"] = {name: dataclasses.asdict(t) | {"mean": t.mean} for name, t in tallies.items()}
    return await store.experiments.record(
        experiment, journey, metric, decision.status, decision.winner, body, at or now()
    )


def subject_variant(
    renderer: Renderer, rendered: Rendered, subject: str, context: dict[str, Any], template: str
) -> Rendered:
    """``rendered`` with an arm's subject line, rendered in the same context and locale."""
    try:
        # A subject is plain text, like the ``.subject.j2`` files: Jinja autoescapes strings
        # by default, which would show "O&#39;Brien" in the inbox.
        source = "{% autoescape false %}" + subject + "{% endautoescape %}"
        line = (
            renderer.env(rendered.locale)
            .from_string(source)
            .render({**context, "locale": rendered.locale})
        )
    except Exception as exc:  # jinja2's errors, named like the template's own
        raise TemplateError(template, f"arm subject: {exc}", where="subject") from exc
    return dataclasses.replace(rendered, subject=" ".join(scrub(line).split()))


class ExperimentActivities:
    """Arms and decisions; the store is injected once by the worker."""

    def __init__(
        self, store: Store, evaluate_every: timedelta = EVALUATE_EVERY, *, enabled: bool = True
    ) -> None:
        self.store = store
        self.evaluate_every = evaluate_every
        self.enabled = enabled

    @activity.defn(name=ASSIGN_ARM)
    async def assign_arm(self, request: AssignArms) -> ArmsAssigned:
        """Each contact's arm: kept if assigned, the winner if decided, else the hash's.

        The journey's holdout comes first: a contact it holds out is in none of the journey's
        experiments (they get nothing, so counting them in an arm would only dilute it).
        """
        answers: list[ArmAssigned] = []
        held_out = False
        for r in request.requests:
            if held_out:
                answers.append(ArmAssigned(arm=r.arms[0], via="held_out"))
                continue
            answer = await self.assign(r)
            held_out = r.experiment.startswith(HOLDOUT_PREFIX) and answer.arm == HELD_OUT
            answers.append(answer)
        return ArmsAssigned(arms=answers)

    async def assign(self, request: AssignArm) -> ArmAssigned:
        """One assignment (see :meth:`assign_arm`)."""
        if not self.enabled:
            # Switched off: the control (treated, for a holdout), recorded nowhere, so an
            # experiment's figures never count contacts it did not randomise.
            return ArmAssigned(arm=request.arms[0], via="off")
        existing = await self.store.experiments.get(request.experiment, request.contact_id)
        if existing is not None:
            return ArmAssigned(arm=existing.arm, via="sticky")
        arm, via = request.proposed, "hash"
        if request.metric != "none":
            decision = await self._current(request)
            if decision.status == "decided" and decision.winner in request.arms:
                arm, via = decision.winner, "winner"
            elif decision.status == "no_difference":
                arm, via = request.arms[0], "winner"
        stored, new = await self.store.experiments.assign(
            request.experiment, request.journey, request.contact_id, arm, now()
        )
        if new:
            metrics.arm_assigned(request.journey, request.experiment, stored.arm)
            log.info(
                "arm assigned",
                contact_id=request.contact_id,
                experiment=request.experiment,
                arm=stored.arm,
                via=via,
            )
        return ArmAssigned(arm=stored.arm, via=via if new else "sticky")

    async def _current(self, request: AssignArm) -> StoredDecision:
        stored = await self.store.experiments.decision(request.experiment)
        fresh = stored is not None and (
            stored.status != "running" or now() - stored.evaluated_at < self.evaluate_every
        )
        if stored is not None and fresh:
            return stored
        return await evaluate_experiment(
            self.store,
            request.experiment,
            request.journey,
            request.metric,
            goal=request.goal,
            arms=request.arms,
            min_sample=request.min_sample,
            horizon=request.horizon,
            alpha=request.alpha,
        )
