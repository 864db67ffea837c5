"""What a rule's shape says about its members, before any SQL: anchored rules and complements.

A rule is *anchored* when its members can be found from an index without reading every
contact: a positive event condition (contacts without matching events fail it: the ladder or
the event indexes list the others), a range of an indexed column, an ``all_of`` with one
anchored part, an ``any_of`` of anchored parts. "No click for 15 days" is not anchored (98 %
of the base), but its *complement* ("clicked in 15 days") is: so its size is the base's minus
the complement's, two index reads, where listing it probes every contact.

:func:`complement` is exact only where the rule is two-valued for every contact: counts and
sums (a contact without events has 0, never NULL) and the boolean structure over them. Trait
comparisons (a missing trait fails both ways), averages (NULL without events), scores and tags
have none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from store.segments.rules import AllOf, AnyOf, EventCond, NoneOf, Rule, SegmentRef, Trait

ZERO = {"count": 0.0, "sum": 0.0, "avg": None}
# Contact columns a range condition reads from an index (``ix_contacts_spent_signup``).
INDEXED = ("total_spent",)
_COMPARE = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_NEGATED = {">=": "<", ">": "<=", "<": ">=", "<=": ">", "=": "!=", "!=": "="}


def compare(op: str, left: Any, right: Any) -> Any:
    """``left op right`` for SQL expressions and Python values alike."""
    return _COMPARE[op](left, right)


def anchored(rule: Rule, segments: Mapping[str, Rule], seen: frozenset[str] = frozenset()) -> bool:
    """Whether the rule's members can be found without reading every contact."""
    if isinstance(rule, EventCond):  # contacts without matching events are not members
        zero = ZERO[rule.measure]
        return zero is None or not compare(rule.op, zero, rule.value)
    if isinstance(rule, AllOf):
        return any(anchored(r, segments, seen) for r in rule.rules)
    if isinstance(rule, AnyOf):
        return bool(rule.rules) and all(anchored(r, segments, seen) for r in rule.rules)
    if isinstance(rule, SegmentRef):
        named = segments.get(rule.name)
        if named is None or rule.name in seen:
            return False  # compiling it raises the error
        return anchored(named, segments, seen | {rule.name})
    if isinstance(rule, Trait):
        return rule.field in INDEXED and rule.op in (">", ">=", "<", "<=", "=", "between")
    return False


def complement(
    rule: Rule, segments: Mapping[str, Rule], seen: frozenset[str] = frozenset()
) -> Rule | None:
    """The rule every contact outside ``rule`` satisfies, exactly; None when there is none."""
    if isinstance(rule, EventCond):
        if rule.measure == "avg":
            return None
        return rule.model_copy(update={"op": _NEGATED[rule.op]})
    if isinstance(rule, NoneOf):
        return AnyOf(rules=rule.rules)
    if isinstance(rule, AllOf | AnyOf):
        parts = [complement(r, segments, seen) for r in rule.rules]
        if any(p is None for p in parts):
            return None
        kept = [p for p in parts if p is not None]
        return AnyOf(rules=kept) if isinstance(rule, AllOf) else AllOf(rules=kept)
    if isinstance(rule, SegmentRef):
        named = segments.get(rule.name)
        if named is None or rule.name in seen:
            return None
        return complement(named, segments, seen | {rule.name})
    return None
