"""A plain-Python evaluator of segment rules: the oracle for the SQL compiler.

It mirrors the semantics documented in :mod:`store.segments.rules` on in-memory profiles and
events. Tests compare it with the SQL on random rules and data (hypothesis); the benchmark uses
it as the naive baseline (load rows, evaluate in Python).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from store.contacts import parse_time
from store.segments.compiler import COLUMNS, DATE, TIME, Catalog, RuleError, compare
from store.segments.rules import EventCond, PropertyFilter, Rule, Trait, _kind


def json_kind(value: Any) -> str | None:
    """The rule kind a stored JSON value has (None for null, lists and objects)."""
    if isinstance(value, bool | int | float | str):
        return _kind(value)
    return None


def _apply(value: Any, op: str, values: list[Any]) -> bool:
    if value is None:
        return False
    if op == "in":
        return any(value == v for v in values)
    if op == "between":
        return bool(values[0] <= value <= values[1])
    if op == "contains":
        return values[0] in value
    return bool(compare(op, value, values[0]))


def _typed(source: Mapping[str, Any], key: str, kind: str) -> Any:
    value = source.get(key)
    return value if json_kind(value) == kind else None


class Reference:
    """Evaluates rules for one contact at a time.

    Args:
        now: the moment relative times count back from.
        catalog: named segments, automatic tags and lead rules.
        scores: stored RFM scores by contact id (``recency``, ``frequency``, ``monetary``,
            ``rfm_group``).
    """

    def __init__(
        self, now: datetime, catalog: Catalog, scores: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        self.now = now
        self.catalog = catalog
        self.scores = scores or {}

    def holds(
        self, rule: Rule, contact: Mapping[str, Any], events: Sequence[Mapping[str, Any]]
    ) -> bool:
        """Does ``rule`` hold for ``contact`` (a profile row as a dict) with its ``events``?"""
        kind = rule.kind
        if kind == "all_of":
            return all(self.holds(r, contact, events) for r in rule.rules)  # type: ignore[union-attr]
        if kind == "any_of":
            return any(self.holds(r, contact, events) for r in rule.rules)  # type: ignore[union-attr]
        if kind == "none_of":
            return not any(self.holds(r, contact, events) for r in rule.rules)  # type: ignore[union-attr]
        if kind == "segment":
            return self.holds(self.catalog.segments[rule.name], contact, events)  # type: ignore[union-attr]
        if kind == "trait":
            return self._trait(rule, contact)  # type: ignore[arg-type]
        if kind == "tag":
            auto = self.catalog.auto_tags.get(rule.tag)  # type: ignore[union-attr]
            return rule.tag in (contact.get("tags") or []) or (  # type: ignore[union-attr]
                auto is not None and self.holds(auto, contact, events)
            )
        if kind == "interest":
            return rule.interest in (contact.get("interests") or [])  # type: ignore[union-attr]
        if kind == "event":
            return self._event(rule, events)  # type: ignore[arg-type]
        if kind == "rfm":
            return self._rfm(rule, contact["id"])
        if kind == "lead_score":
            return bool(compare(rule.op, self.lead_score(contact, events), rule.value))  # type: ignore[union-attr]
        raise RuleError(f"unknown rule kind {kind}")

    def _trait(self, rule: Trait, contact: Mapping[str, Any]) -> bool:
        kind = COLUMNS.get(rule.field)
        if rule.op in ("before", "after", "within"):
            value = contact.get(rule.field)
            if value is None:
                return False
            cutoff: Any = (
                self.now - timedelta(days=rule.days)
                if rule.days is not None
                else parse_time(rule.value, rule.field)
            )
            if kind == DATE:
                cutoff = cutoff.date()
            op = {"before": "<", "after": ">", "within": ">="}[rule.op]
            return bool(compare(op, value, cutoff))
        if rule.op == "exists":
            source = contact if kind is not None else contact.get("traits") or {}
            return source.get(rule.field) is not None
        values = rule.value if isinstance(rule.value, list) else [rule.value]
        value_kind = _kind(values[0])
        if kind == TIME:
            raise RuleError(f"{rule.field} is a time: use before/after/within")
        if kind == DATE:
            return _apply(
                contact.get(rule.field), rule.op, [date.fromisoformat(str(v)) for v in values]
            )
        if kind is not None:
            if kind != value_kind:
                return False
            return _apply(contact.get(rule.field), rule.op, values)
        return _apply(_typed(contact.get("traits") or {}, rule.field, value_kind), rule.op, values)

    def _matching(
        self, rule: EventCond, events: Sequence[Mapping[str, Any]]
    ) -> list[Mapping[str, Any]]:
        cutoff = self.now - timedelta(days=rule.days) if rule.days is not None else None
        return [
            e
            for e in events
            if e["name"] == rule.event
            and (cutoff is None or e["timestamp"] >= cutoff)
            and all(self._property(f, e.get("properties") or {}) for f in rule.where)
        ]

    @staticmethod
    def _property(f: PropertyFilter, properties: Mapping[str, Any]) -> bool:
        if f.op == "exists":
            return properties.get(f.property) is not None
        values = f.value if isinstance(f.value, list) else [f.value]
        return _apply(_typed(properties, f.property, _kind(values[0])), f.op, values)

    def _event(self, rule: EventCond, events: Sequence[Mapping[str, Any]]) -> bool:
        matching = self._matching(rule, events)
        if rule.measure == "count":
            measure: float | None = float(len(matching))
        else:
            amounts = [
                float(v)
                for e in matching
                if (v := _typed(e.get("properties") or {}, rule.property or "", "number"))
                is not None
            ]
            if rule.measure == "sum":
                measure = float(sum(amounts))
            else:
                measure = sum(amounts) / len(amounts) if amounts else None
        return measure is not None and bool(compare(rule.op, measure, rule.value))

    def _rfm(self, rule: Any, contact_id: str) -> bool:
        score = self.scores.get(contact_id)
        if score is None:
            return False
        if rule.groups and score["rfm_group"] not in rule.groups:
            return False
        return all(
            not getattr(rule, name) or score[name] in getattr(rule, name)
            for name in ("recency", "frequency", "monetary")
        )

    def lead_score(self, contact: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> float:
        """The contact's lead score: the weighted lead rules, summed."""
        total = 0.0
        for lead in self.catalog.lead:
            if lead.per is not None:
                total += lead.points * len(self._matching(lead.per, events))
            elif lead.when is not None and self.holds(lead.when, contact, events):
                total += lead.points
        return total


def as_of(moment: datetime | date | None) -> Any:
    """Helper for tests: dates stay dates, datetimes become aware UTC."""
    if isinstance(moment, datetime):
        return parse_time(moment, "moment")
    return moment
