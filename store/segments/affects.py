"""What can change a rule's answer for one contact: which events, which traits, and time.

Real-time membership (``gateway/live_segments.py``) re-evaluates, after each stored event or
trait change, only the segments that event or trait can affect; this module reads that off the
rule. Computed fields count as the events that feed them (``total_spent`` ← ``Order
Completed``), tags and interests as the traits that set them, automatic tags and the lead
score as the rules behind them. RFM groups change only when scores are refreshed (the
enrollment scan does that), so no single event affects them here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from store.computed import CLICKED, OPENED, ORDER
from store.contacts import COLUMN_TRAITS, LIST_TRAITS
from store.segments.compiler import Catalog
from store.segments.rules import Rule

# Computed column -> the event whose arrival changes it (None: any track event).
FED_BY: dict[str, str | None] = {
    "order_count": ORDER,
    "total_spent": ORDER,
    "first_order_at": ORDER,
    "last_order_at": ORDER,
    "last_email_open_at": OPENED,
    "last_email_click_at": CLICKED,
    "last_seen_at": None,
}
# Profile column -> the trait names an identify sets it from.
_SET_BY: dict[str, set[str]] = {}
for _name, _column in COLUMN_TRAITS.items():
    _SET_BY.setdefault(_column, set()).add(_name)
_SET_BY.setdefault("country", set()).add("address")
_SET_BY.setdefault("city", set()).add("address")


@dataclass
class Inputs:
    """What a rule reads.

    Attributes:
        events: event names whose arrival can change the answer.
        any_event: every track event can (``last_seen_at``).
        traits: trait names (as apps send them) whose change can.
        timed: the answer can change with time alone (windows, "N days ago").
    """

    events: set[str] = field(default_factory=set)
    any_event: bool = False
    traits: set[str] = field(default_factory=set)
    timed: bool = False

    def hears(self, event: str) -> bool:
        """Can a track event named ``event`` change the answer?"""
        return self.any_event or event in self.events

    def hears_traits(self, names: list[str]) -> bool:
        """Can an identify setting these traits change the answer?"""
        return any(name in self.traits for name in names)


def inputs(rule: Rule, catalog: Catalog) -> Inputs:
    """The events, traits and time ``rule`` depends on (named segments and tags followed)."""
    found = Inputs()
    _walk(rule, catalog, found, set())
    return found


def _walk(rule: Rule, catalog: Catalog, found: Inputs, seen: set[str]) -> None:
    kind = rule.kind
    if kind in ("all_of", "any_of", "none_of"):
        for child in rule.rules:  # type: ignore[union-attr]
            _walk(child, catalog, found, seen)
    elif kind == "segment":
        _named(f"segment {rule.name}", catalog.segments.get(rule.name), catalog, found, seen)  # type: ignore[union-attr]
    elif kind == "tag":
        found.traits.add("tags")
        _named(f"tag {rule.tag}", catalog.auto_tags.get(rule.tag), catalog, found, seen)  # type: ignore[union-attr]
    elif kind == "interest":
        found.traits.add("interests")
    elif kind == "event":
        found.events.add(rule.event)  # type: ignore[union-attr]
        found.timed = found.timed or rule.days is not None  # type: ignore[union-attr]
    elif kind == "trait":
        _profile(rule.field, rule.op, found)  # type: ignore[union-attr]
    elif kind == "lead_score":
        for lead in catalog.lead:
            for part in (lead.per, lead.when):
                if part is not None:
                    _walk(part, catalog, found, seen)


def _profile(name: str, op: str, found: Inputs) -> None:
    if op in ("before", "after", "within"):
        found.timed = True
    if name in FED_BY:
        event = FED_BY[name]
        if event is None:
            found.any_event = True
        else:
            found.events.add(event)
    elif name in _SET_BY:
        found.traits |= _SET_BY[name]
    elif name not in ("id", "created_at", "updated_at"):
        found.traits.add(name)
    if name in LIST_TRAITS:
        found.traits.add(name)


def _named(label: str, rule: Rule | None, catalog: Catalog, found: Inputs, seen: set[str]) -> None:
    if rule is None or label in seen:
        return
    seen.add(label)
    _walk(rule, catalog, found, seen)
