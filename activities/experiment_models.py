"""Names and payloads of the experiment activities (light imports: workflows pass it through)."""

from __future__ import annotations

from pydantic import BaseModel, Field

ASSIGN_ARM = "assign_arm"
# A journey's holdout is the experiment ``holdout:<journey>``; its held-out arm (as in
# workflows/experiments.py, which workflows and this light module both may import).
HOLDOUT_PREFIX, HELD_OUT = "holdout:", "holdout"


class AssignArm(BaseModel):
    """Give a contact their arm in an experiment (or a journey's holdout), once for good.

    ``proposed`` is the arm the deterministic hash of experiment and contact key picked; the
    activity keeps it unless the contact already has an arm (sticky) or the experiment is
    decided (new contacts get the winner; ``no_difference`` sends them to ``arms[0]``).
    """

    experiment: str
    journey: str
    contact_id: str
    arms: list[str]
    proposed: str
    # What decides the experiment; "none" for a holdout (measured in the report only).
    metric: str = "open"
    goal: list[str] = Field(default_factory=list)
    min_sample: int = 500
    horizon: int = 20_000
    alpha: float = 0.05


class ArmAssigned(BaseModel):
    """The contact's arm; ``via`` says why: ``hash``, ``sticky``, ``winner``, ``off`` (the
    kill switch) or ``held_out`` (not recorded: the journey holds the contact out)."""

    arm: str
    via: str = "hash"


class AssignArms(BaseModel):
    """Several assignments in one local activity (a journey's holdout and experiments at entry)."""

    requests: list[AssignArm]


class ArmsAssigned(BaseModel):
    """The arms, in the order asked."""

    arms: list[ArmAssigned]
