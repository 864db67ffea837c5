"""Experiments and holdouts in a journey's code: sticky arms, decided winners, held-out contacts.

A journey declares an experiment on a step::

    SUBJECT = Experiment(
        "welcome-subject",
        arms=(Arm("control"), Arm("question", subject="Ready{{ name_suffix }}?")),
        metric="open",
    )
    hello = await self.send("welcome/hello", experiment=SUBJECT)

An arm may change the subject line (a Jinja string rendered like the template's subject), the
template, the delay before the step, the send time (``at="best_time"``), or skip the step
(``skip=True``: the frequency of a sequence). The first arm is the control.

Assignment is a deterministic hash of experiment name and contact *key* (never the user id),
weighted by the arms' weights, so a replay, a re-entry or a continue-as-new lands in the same
arm; the ``assign_arm`` local activity records it in the store, where the first arm a contact
got is the one they keep. Once the experiment is decided (``activities/sequential.py``), new
contacts get the winner and those already assigned keep their arm.

Experiments declared in ``@journey(experiments=...)`` are assigned at entry, together with the
holdout, in one local activity; :meth:`ExperimentVerbs.in_experiment` then tells the steps
whether this stay has the experiment (stays that began before it was declared do not).

A journey declared with ``@journey(holdout=0.05)`` holds out that share of its contacts: they
enter, are counted (experiment ``holdout:<journey>``) and get nothing from it; the report
compares their goal rate and revenue with the treated contacts'.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.experiment_models import ASSIGN_ARM, ArmsAssigned, AssignArm, AssignArms
    from workflows.clock import ScaledClock
    from workflows.exits import JourneyExit
    from workflows.models import ExitReason
    from workflows.search import contact_of
    from workflows.spec import JourneySpec

Metric = Literal["open", "click", "conversion", "revenue"]
HOLDOUT, TREATED = "holdout", "treated"
# Journeys that started before holdouts and declared experiments existed replay without the
# local activity that assigns them at entry.
LEARNING_PATCH = "learning-assign"
ASSIGN_TIMEOUT = timedelta(seconds=30)


@dataclass(frozen=True)
class Arm:
    """One variant of a step. Unset fields keep the step as the journey wrote it."""

    name: str
    subject: str | None = None
    template: str | None = None
    delay: timedelta | None = None
    at: str | None = None
    skip: bool = False
    weight: float = 1.0


@dataclass(frozen=True)
class Experiment:
    """An experiment on one step: its arms (the first is the control) and what decides it."""

    name: str
    arms: tuple[Arm, ...]
    metric: Metric = "open"
    min_sample: int = 500
    horizon: int = 20_000
    alpha: float = 0.05

    def __post_init__(self) -> None:
        names = [a.name for a in self.arms]
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"experiment {self.name!r} needs two or more arms with unique names")

    def arm(self, name: str) -> Arm:
        """The arm called ``name`` (the control if the code no longer has it)."""
        return next((a for a in self.arms if a.name == name), self.arms[0])

    def pick(self, contact_key: str) -> Arm:
        """The arm the hash of experiment and contact key falls in, by weight."""
        point = bucket(self.name, contact_key) * sum(a.weight for a in self.arms)
        for arm in self.arms:
            point -= arm.weight
            if point < 0:
                return arm
        return self.arms[-1]


def bucket(name: str, contact_key: str) -> float:
    """A uniform number in [0, 1) fixed by ``name`` and ``contact_key`` (SHA-256)."""
    digest = hashlib.sha256(f"{name}\0{contact_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def holdout_of(journey: str, share: float) -> Experiment:
    """The holdout of ``journey`` as an experiment with arms ``treated`` and ``holdout``."""
    return Experiment(
        f"holdout:{journey}",
        arms=(Arm(TREATED, weight=1 - share), Arm(HOLDOUT, weight=share)),
        metric="conversion",
    )


class ExperimentVerbs(ScaledClock):
    """Mixed into ``Journey``: arms of experiments, and the holdout at entry."""

    spec: ClassVar[JourneySpec]
    contact_id: str
    _step: str
    _arms: dict[str, str]
    _steps_taken: int

    if TYPE_CHECKING:

        def _record(self, step: str, detail: str) -> None: ...

        def _wait_details(self, what: str | None, until: datetime | None) -> None: ...

        async def steps(self) -> None: ...

    async def arm_of(self, experiment: Experiment) -> Arm:
        """The contact's arm in ``experiment``: recorded once, the same ever after."""
        if experiment.name not in self._arms:
            await self._assign([experiment])
        return experiment.arm(self._arms[experiment.name])

    async def _assign(self, experiments: list[Experiment]) -> None:
        # One local activity (one marker event) for all of them.
        key = contact_of(workflow.info().workflow_id)
        wanted = [e for e in experiments if e.name not in self._arms]
        if not wanted:
            return
        assigned = await workflow.execute_local_activity(
            ASSIGN_ARM,
            AssignArms(requests=[self._request(e, e.pick(key)) for e in wanted]),
            result_type=ArmsAssigned,
            start_to_close_timeout=ASSIGN_TIMEOUT,
        )
        for experiment, got in zip(wanted, assigned.arms, strict=True):
            self._arms[experiment.name] = got.arm
            how = {"winner": " (the winner)", "sticky": " (kept)"}.get(got.via, "")
            self._record(self._step, f"{experiment.name}: arm {got.arm}{how}")

    def _request(self, experiment: Experiment, proposed: Arm) -> AssignArm:
        holdout = experiment.name.startswith("holdout:")
        return AssignArm(
            experiment=experiment.name,
            journey=self.spec.name,
            contact_id=self.contact_id,
            arms=[a.name for a in experiment.arms],
            proposed=proposed.name,
            metric="none" if holdout else experiment.metric,
            goal=list(self.spec.goal),
            min_sample=experiment.min_sample,
            horizon=experiment.horizon,
            alpha=experiment.alpha,
        )

    def in_experiment(self, experiment: Experiment) -> Experiment | None:
        """``experiment`` if this stay was assigned to it at entry, else None.

        For a journey that declared the experiment in ``@journey(experiments=...)`` after it
        had contacts: those that entered before carry on without it, so they still replay.
        """
        return experiment if experiment.name in self._arms else None

    async def _steps_unless_held_out(self) -> None:
        """Run ``steps``, after assigning the journey's holdout and declared experiments at
        entry; a held-out contact ends here."""
        declared = list(self.spec.experiments)
        if self.spec.holdout > 0:
            declared.insert(0, holdout_of(self.spec.name, self.spec.holdout))
        fresh = self._steps_taken == 0 and not self._arms
        if declared and fresh and workflow.patched(LEARNING_PATCH):
            await self._assign(declared)
            if self._arms.get(declared[0].name) == HOLDOUT:
                raise JourneyExit(ExitReason.held_out)
        await self.steps()

    async def _arm_delay(self, arm: Arm, experiment: Experiment) -> None:
        # A plain timer: the send's journal entry covers the whole step on continue-as-new.
        if arm.delay is not None and arm.delay > timedelta(0):
            delay = self._real(arm.delay)  # journey time (workflows/clock.py)
            until = workflow.now() + delay
            self._wait_details(f"{experiment.name} arm {arm.name}", until)
            await workflow.sleep(delay, summary=f"{experiment.name}: {arm.name}")
            self._wait_details(None, None)
