"""The segment rule language: small pydantic models that serialise to JSON.

Rules are written in Python (``journeys/segments.py``) with the builder functions at the
bottom of this module, and could come from a UI as JSON later: ``Rule`` is a discriminated
union on ``kind``, so ``RuleAdapter.validate_json(rule_json)`` round-trips every rule.

Semantics shared by the SQL compiler and the Python reference evaluator:

- A comparison on a missing value, or on a value of another type than the rule's value, is
  false (``plan != "pro"`` is false for a contact without a ``plan``). Use ``none_of`` for "is
  not, or unknown".
- Relative times (``days=``) are measured back from the evaluation's ``now``.
- An event condition aggregates the contact's events of one name, optionally filtered on
  properties and limited to a window. ``count`` and ``sum`` of no events are 0, so "did not do
  X in the last N days" is ``count == 0``; ``avg`` of no events is unknown, hence false.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, TypeAdapter, model_validator

Scalar = bool | int | float | str
Compare = Literal["=", "!=", "<", "<=", ">", ">="]
TraitOp = Literal[
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "contains",
    "exists",
    "between",
    "before",
    "after",
    "within",
]
PropOp = Literal["=", "!=", "<", "<=", ">", ">=", "in", "contains", "exists"]
RFM_GROUPS = (
    "champions",
    "loyal",
    "new",
    "promising",
    "need_attention",
    "at_risk",
    "hibernating",
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _identifier(value: str) -> str:
    # Keys end up in JSON paths; identifiers keep those paths free of quoting problems.
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not a valid field name (letters, digits, underscore)")
    return value


Key = Annotated[str, AfterValidator(_identifier)]


def _check_value(op: str, value: object) -> None:
    if op == "exists":
        return
    if op in ("in", "between"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"operator {op!r} needs a non-empty list value")
        if op == "between" and len(value) != 2:
            raise ValueError("operator 'between' needs [low, high]")
        if len({_kind(v) for v in value}) != 1:
            raise ValueError(f"operator {op!r} needs values of one type")
        return
    if op == "contains" and not isinstance(value, str):
        raise ValueError("operator 'contains' needs a string value")
    if value is None or isinstance(value, list):
        raise ValueError(f"operator {op!r} needs one value")


def _kind(value: object) -> str:
    """The JSON type a rule value compares against: bool, number or string."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"


class Trait(BaseModel):
    """Compare a profile field: a column (``email``, ``total_spent``…) or a free-form trait.

    ``before``/``after``/``within`` apply to time fields and take ``days`` (relative to now);
    ``before``/``after`` on the ``birthday`` date take an ISO date as ``value``.
    """

    kind: Literal["trait"] = "trait"
    field: Key
    op: TraitOp
    value: Scalar | list[Scalar] | None = None
    days: float | None = None

    @model_validator(mode="after")
    def _valid(self) -> Trait:
        if self.op in ("before", "after", "within"):
            if self.days is None and not isinstance(self.value, str):
                raise ValueError(f"operator {self.op!r} needs days= (or an ISO date value)")
        else:
            _check_value(self.op, self.value)
        return self


class PropertyFilter(BaseModel):
    """A condition on an event property (``properties.category = "fashion"``)."""

    property: Key
    op: PropOp
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _valid(self) -> PropertyFilter:
        _check_value(self.op, self.value)
        return self


class EventCond(BaseModel):
    """Count, sum or average of one event, optionally filtered and windowed, vs a threshold."""

    kind: Literal["event"] = "event"
    event: str
    measure: Literal["count", "sum", "avg"] = "count"
    property: Key | None = None
    where: list[PropertyFilter] = Field(default_factory=list)
    days: float | None = None
    op: Compare = ">="
    value: float = 1

    @model_validator(mode="after")
    def _valid(self) -> EventCond:
        if self.measure != "count" and self.property is None:
            raise ValueError(f"measure {self.measure!r} needs property=")
        return self


class Tag(BaseModel):
    """The contact carries a tag, set by the app or computed by an automatic-tag rule."""

    kind: Literal["tag"] = "tag"
    tag: str


class Interest(BaseModel):
    """The contact declared an interest."""

    kind: Literal["interest"] = "interest"
    interest: str


class SegmentRef(BaseModel):
    """Membership of another named segment."""

    kind: Literal["segment"] = "segment"
    name: str


class RFM(BaseModel):
    """RFM scores (1–5, 5 best) or named groups, from the last score refresh."""

    kind: Literal["rfm"] = "rfm"
    groups: list[Literal[RFM_GROUPS]] = Field(default_factory=list)  # type: ignore[valid-type]
    recency: list[int] = Field(default_factory=list)
    frequency: list[int] = Field(default_factory=list)
    monetary: list[int] = Field(default_factory=list)


class LeadScore(BaseModel):
    """The lead score (sum of the weighted lead rules), computed live."""

    kind: Literal["lead_score"] = "lead_score"
    op: Compare
    value: float


class AllOf(BaseModel):
    """Every rule holds (an empty list holds)."""

    kind: Literal["all_of"] = "all_of"
    rules: list[Rule]


class AnyOf(BaseModel):
    """At least one rule holds (an empty list does not)."""

    kind: Literal["any_of"] = "any_of"
    rules: list[Rule]


class NoneOf(BaseModel):
    """No rule holds."""

    kind: Literal["none_of"] = "none_of"
    rules: list[Rule]


Rule = Annotated[
    AllOf | AnyOf | NoneOf | Trait | EventCond | Tag | Interest | SegmentRef | RFM | LeadScore,
    Field(discriminator="kind"),
]
RuleAdapter: TypeAdapter[Rule] = TypeAdapter(Rule)
for _model in (AllOf, AnyOf, NoneOf):
    _model.model_rebuild()


class LeadRule(BaseModel):
    """One weighted lead-score rule: ``points`` when ``when`` holds, or per matching event."""

    points: float
    when: Rule | None = None
    per: EventCond | None = None

    @model_validator(mode="after")
    def _valid(self) -> LeadRule:
        if (self.when is None) == (self.per is None):
            raise ValueError("a lead rule needs exactly one of when= or per=")
        return self


# ---- builders: how segments read in Python ---------------------------------------------------


def all_of(*rules: Rule) -> AllOf:
    """Every rule holds."""
    return AllOf(rules=list(rules))


def any_of(*rules: Rule) -> AnyOf:
    """At least one rule holds."""
    return AnyOf(rules=list(rules))


def none_of(*rules: Rule) -> NoneOf:
    """No rule holds."""
    return NoneOf(rules=list(rules))


def trait(
    field: str, op: str, value: Scalar | list[Scalar] | None = None, *, days: float | None = None
) -> Trait:
    """``trait("total_spent", ">", 500)``, ``trait("signup_at", "before", days=730)``."""
    return Trait(field=field, op=op, value=value, days=days)  # type: ignore[arg-type]


def did(
    event: str,
    *,
    at_least: int = 1,
    days: float | None = None,
    where: list[PropertyFilter] | None = None,
) -> EventCond:
    """Did ``event`` at least ``at_least`` times (in the last ``days``)."""
    return EventCond(event=event, op=">=", value=at_least, days=days, where=where or [])


def did_not(
    event: str, *, days: float | None = None, where: list[PropertyFilter] | None = None
) -> EventCond:
    """Did not do ``event`` (in the last ``days``); true for contacts with no events at all."""
    return EventCond(event=event, op="=", value=0, days=days, where=where or [])


def prop(property: str, op: str, value: Scalar | list[Scalar] | None = None) -> PropertyFilter:
    """An event-property filter for ``where=``."""
    return PropertyFilter(property=property, op=op, value=value)  # type: ignore[arg-type]


def tag(name: str) -> Tag:
    """Has tag ``name``."""
    return Tag(tag=name)


def interest(name: str) -> Interest:
    """Declared interest ``name``."""
    return Interest(interest=name)


def segment(name: str) -> SegmentRef:
    """Is in named segment ``name``."""
    return SegmentRef(name=name)


def rfm(*groups: str) -> RFM:
    """In one of the named RFM groups."""
    return RFM(groups=list(groups))
