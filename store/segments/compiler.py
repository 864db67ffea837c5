"""Segment rules compiled to SQL: one boolean clause over ``contacts`` per rule.

The same clause answers both questions: ``WHERE <clause>`` lists the whole base, and
``WHERE id = :contact AND <clause>`` answers for one contact. For the latter the compiler also
pushes the contact's id into every event subquery, so a one-contact lookup reads that contact's
index entries only instead of aggregating the whole event log.

Event conditions compile to ``id IN (… GROUP BY contact_id HAVING agg op value)``, or, when a
contact with no matching events satisfies the threshold ("did not open in 15 days"),
``id NOT IN (… HAVING NOT (agg op value))``: set-based subqueries the database runs once per
query, not once per contact. Rules are never evaluated row by row in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from store.contacts import parse_time
from store.jsonsql import has_element, present, typed
from store.schema import When, contact_scores, contacts, events
from store.segments import ladder
from store.segments.rules import (
    RFM,
    AllOf,
    AnyOf,
    EventCond,
    Interest,
    LeadRule,
    LeadScore,
    NoneOf,
    PropertyFilter,
    Rule,
    SegmentRef,
    Tag,
    Trait,
    _kind,
)
from store.segments.shapes import ZERO, anchored, compare

TEXT, NUMBER, TIME, DATE = "string", "number", "time", "date"
COLUMNS: dict[str, str] = {
    "id": TEXT,
    "email": TEXT,
    "phone": TEXT,
    "first_name": TEXT,
    "last_name": TEXT,
    "locale": TEXT,
    "timezone": TEXT,
    "country": TEXT,
    "city": TEXT,
    "birthday": DATE,
    "signup_at": TIME,
    "created_at": TIME,
    "updated_at": TIME,
    "order_count": NUMBER,
    "total_spent": NUMBER,
    "first_order_at": TIME,
    "last_order_at": TIME,
    "last_seen_at": TIME,
    "last_email_open_at": TIME,
    "last_email_click_at": TIME,
}
COMPUTED = (
    "order_count",
    "total_spent",
    "first_order_at",
    "last_order_at",
    "last_seen_at",
    "last_email_open_at",
    "last_email_click_at",
)


class RuleError(ValueError):
    """A rule that cannot be compiled (unknown segment, time operator on a text field…)."""


@dataclass(frozen=True)
class Catalog:
    """Everything a rule may refer to by name.

    Attributes:
        segments: named segments (``segment("vip")``).
        auto_tags: tag name → rule; ``tag(name)`` also holds for members of the rule.
        lead: the weighted lead-score rules.
    """

    segments: Mapping[str, Rule] = field(default_factory=dict)
    auto_tags: Mapping[str, Rule] = field(default_factory=dict)
    lead: Sequence[LeadRule] = ()


def _never_after_zero(op: str, value: float) -> bool:
    """True when no count of 1 or more satisfies ``count op value`` (counts only grow)."""
    return (op == "=" and value < 1) or (op == "<" and value <= 1) or (op == "<=" and value < 1)


def _since(now: datetime, days: float) -> datetime:
    return now - timedelta(days=days)


def bound_times(offsets: dict[str, tuple[float, bool]], now: datetime) -> dict[str, Any]:
    """The values at ``now`` of a ``bind_times`` compiler's relative times (its ``offsets``)."""
    values: dict[str, Any] = {}
    for name, (days, as_date) in offsets.items():
        moment = _since(now, days)
        values[name] = moment.date() if as_date else moment
    return values


class Compiler:
    """Compiles rules for one dialect, one ``now`` and optionally one contact.

    Args:
        dialect: ``sqlite`` or ``postgresql``.
        now: the moment relative times count back from (aware).
        catalog: named segments, automatic tags and lead rules.
        contact_id: restrict event subqueries to this contact (one-contact lookups); a
            string, or a bound parameter for a prepared statement.
        bind_times: emit relative times as bound parameters (named in :attr:`offsets`) instead
            of literals, so one built statement serves every ``now`` (prepared lookups).
    """

    def __init__(
        self,
        dialect: str,
        now: datetime,
        catalog: Catalog,
        contact_id: Any = None,
        *,
        bind_times: bool = False,
    ) -> None:
        self.dialect = dialect
        self.now = now
        self.catalog = catalog
        self.contact_id = contact_id
        self.bind_times = bind_times
        # bound parameter name -> (days back from now, as a date?)
        self.offsets: dict[str, tuple[float, bool]] = {}
        self._stack: list[str] = []

    def cutoff(self, days: float, as_date: bool = False) -> Any:
        """``now - days`` (a date for date fields): a literal, or a bound parameter."""
        if not self.bind_times:
            moment = _since(self.now, days)
            return moment.date() if as_date else moment
        name = f"since_{'d' if as_date else 't'}_{days:g}".replace(".", "_").replace("-", "m")
        self.offsets[name] = (days, as_date)
        return sa.bindparam(name, value=self.now, type_=sa.Date if as_date else When)

    def clause(self, rule: Rule) -> Any:
        """A boolean SQL expression over ``contacts``; NULL counts as false."""
        method = getattr(self, f"_{rule.kind}")
        return method(rule)

    def _strict(self, rule: Rule) -> Any:
        # NOT NULL is NULL: negations need a two-valued operand.
        return sa.func.coalesce(self.clause(rule), sa.false())

    # ---- boolean structure ----------------------------------------------------------------

    def _all_of(self, rule: AllOf) -> Any:
        return sa.and_(sa.true(), *(self.clause(r) for r in rule.rules))

    def _any_of(self, rule: AnyOf) -> Any:
        if self._sets() and len(rule.rules) > 1 and all(map(self._anchored, rule.rules)):
            # Every branch reachable from an index (a recent event, a spend range): the union
            # of the branches' members, each planned as joins from its own anchor, instead
            # of a scan of every contact testing an OR of subqueries.
            return contacts.c.id.in_(sa.union(*map(self._members, rule.rules)))
        return sa.or_(sa.false(), *(self.clause(r) for r in rule.rules))

    def _sets(self) -> bool:
        """Whole base on PostgreSQL: ``any_of``/``none_of`` over anchored rules as sets.

        PostgreSQL plans an OR of subqueries as a scan of every contact, a union of anchored
        branches as joins. SQLite runs that OR as one index lookup per branch (``MULTI-INDEX
        OR``), and the union form measured twice as slow there.
        """
        return self.contact_id is None and self.dialect == "postgresql"

    def _anchored(self, rule: Rule) -> bool:
        return anchored(rule, self.catalog.segments)

    def _none_of(self, rule: NoneOf) -> Any:
        return sa.and_(sa.true(), *(self._not(r) for r in rule.rules))

    def _not(self, rule: Rule) -> Any:
        if self._sets() and self._anchored(rule):
            # The members of an anchored rule are a small set found from its index, which
            # PostgreSQL anti-joins; negating its clause in place would test each of its
            # conditions per contact, none of them plannable as a join.
            found = self._members(rule).subquery()
            return ~sa.exists().where(found.c.id == contacts.c.id)
        return sa.not_(self._strict(rule))

    def _members(self, rule: Rule) -> Any:
        # The inner FROM contacts shadows the enclosing query's: an uncorrelated set.
        return sa.select(contacts.c.id).where(self.clause(rule)).correlate(None)

    def _segment(self, rule: SegmentRef) -> Any:
        if rule.name not in self.catalog.segments:
            raise RuleError(f"unknown segment {rule.name!r}")
        return self._named(f"segment {rule.name}", self.catalog.segments[rule.name])

    def _named(self, label: str, rule: Rule) -> Any:
        if label in self._stack:
            raise RuleError(f"{label} refers to itself through {' → '.join(self._stack)}")
        self._stack.append(label)
        try:
            return self.clause(rule)
        finally:
            self._stack.pop()

    # ---- profile --------------------------------------------------------------------------

    def _trait(self, rule: Trait) -> Any:
        kind = COLUMNS.get(rule.field)
        if rule.op in ("before", "after", "within"):
            return self._time(rule, kind)
        if rule.op == "exists":
            if kind is not None:
                return contacts.c[rule.field].is_not(None)
            return present(contacts.c.traits, rule.field, self.dialect)
        values: list[Any] = rule.value if isinstance(rule.value, list) else [rule.value]
        value_kind = _kind(values[0])
        if kind in (TIME,):
            raise RuleError(f"{rule.field} is a time: use before/after/within")
        if kind == DATE:
            expr: Any = contacts.c[rule.field]
            values = [date.fromisoformat(str(v)) for v in values]
        elif kind is not None:
            if kind != value_kind:
                return sa.false()  # a number never equals a text column, and so on
            expr = contacts.c[rule.field]
        else:
            expr = typed(contacts.c.traits, rule.field, value_kind, self.dialect)
        return self._apply(expr, rule.op, values)

    def _apply(self, expr: Any, op: str, values: list[Any]) -> Any:
        # SQLAlchemy reads a bare True/False as IS TRUE/IS FALSE; rules mean a value.
        values = [sa.literal(v, sa.Boolean) if isinstance(v, bool) else v for v in values]
        if op == "in":
            return expr.in_(values)
        if op == "between":
            return expr.between(values[0], values[1])
        if op == "contains":
            fn = sa.func.strpos if self.dialect == "postgresql" else sa.func.instr
            return fn(expr, values[0]) > 0
        return compare(op, expr, values[0])

    def _time(self, rule: Trait, kind: str | None) -> Any:
        if kind not in (TIME, DATE):
            raise RuleError(f"{rule.field} is not a time field: {rule.op} needs one")
        col = contacts.c[rule.field]
        if rule.days is not None:
            cutoff: Any = self.cutoff(rule.days, as_date=kind == DATE)
        else:
            cutoff = parse_time(rule.value, f"{rule.field}")
            if kind == DATE:
                cutoff = cutoff.date()
        if rule.op == "before":
            return col < cutoff
        if rule.op == "after":
            return col > cutoff
        return col >= cutoff

    def _tag(self, rule: Tag) -> Any:
        own = has_element(contacts.c.tags, rule.tag, self.dialect)
        auto = self.catalog.auto_tags.get(rule.tag)
        if auto is None:
            return own
        return sa.or_(own, self._named(f"tag {rule.tag}", auto))

    def _interest(self, rule: Interest) -> Any:
        return has_element(contacts.c.interests, rule.interest, self.dialect)

    # ---- events ---------------------------------------------------------------------------

    def _event_filter(self, rule: EventCond) -> list[Any]:
        conds = [events.c.name == rule.event]
        if rule.days is not None:
            conds.append(events.c.timestamp >= self.cutoff(rule.days))
        conds.extend(self._property(f) for f in rule.where)
        return conds

    def _property(self, f: PropertyFilter) -> Any:
        if f.op == "exists":
            return present(events.c.properties, f.property, self.dialect)
        values = f.value if isinstance(f.value, list) else [f.value]
        expr = typed(events.c.properties, f.property, _kind(values[0]), self.dialect)
        return self._apply(expr, f.op, values)

    def _measure(self, rule: EventCond) -> Any:
        if rule.measure == "count":
            return sa.func.count()
        amount = typed(events.c.properties, rule.property or "", "number", self.dialect)
        if rule.measure == "sum":
            return sa.func.coalesce(sa.func.sum(amount), 0.0)
        return sa.func.avg(amount)

    def _one(self, rule: EventCond) -> Any:
        """One contact: a scalar aggregate over its index entries (or EXISTS), no grouping."""
        mine = (events.c.contact_id == self.contact_id, *self._event_filter(rule))
        if rule.measure == "count":
            once = rule.op == ">=" and 0 < rule.value <= 1
            if once or (rule.op == ">" and 0 <= rule.value < 1):
                return sa.exists().where(*mine)
            if compare(rule.op, 0.0, rule.value) and _never_after_zero(rule.op, rule.value):
                return sa.not_(sa.exists().where(*mine))
        total = sa.select(self._measure(rule)).where(*mine).scalar_subquery()
        return compare(rule.op, total, rule.value)

    def _event(self, rule: EventCond) -> Any:
        if self.contact_id is not None:
            return self._one(rule)
        laddered = ladder.condition(self, rule)
        if laddered is not None:
            return laddered
        matching = self._event_filter(rule)
        query = sa.select(events.c.contact_id).where(*matching)
        zero = ZERO[rule.measure]
        if zero is not None and compare(rule.op, zero, rule.value):
            # Contacts without matching events are members: exclude those whose total fails.
            if rule.measure == "count" and _never_after_zero(rule.op, rule.value):
                # "did not do X": any matching event excludes; no grouping (SQLite would scan
                # the whole log in contact order to group it); an anti-join on PostgreSQL.
                if self.dialect == "postgresql":
                    return ~sa.exists().where(events.c.contact_id == contacts.c.id, *matching)
                return contacts.c.id.not_in(query)
            failing = query.group_by(events.c.contact_id).having(
                sa.not_(compare(rule.op, self._measure(rule), rule.value))
            )
            return contacts.c.id.not_in(failing)
        if rule.measure == "count" and rule.op in (">=", ">") and rule.value <= 1:
            # "did it at least once": any matching row will do, no grouping needed.
            if rule.op == ">=" or rule.value < 1:
                return contacts.c.id.in_(query)
        passing = query.group_by(events.c.contact_id).having(
            compare(rule.op, self._measure(rule), rule.value)
        )
        return contacts.c.id.in_(passing)

    # ---- scores ---------------------------------------------------------------------------

    def _rfm(self, rule: RFM) -> Any:
        s = contact_scores.c
        query = sa.select(s.contact_id)
        if rule.groups:
            query = query.where(s.rfm_group.in_(rule.groups))
        for name in ("recency", "frequency", "monetary"):
            wanted = getattr(rule, name)
            if wanted:
                query = query.where(s[name].in_(wanted))
        if self.contact_id is not None:
            query = query.where(s.contact_id == self.contact_id)
        return contacts.c.id.in_(query)

    def lead_score(self) -> Any:
        """The lead score of the contact in the enclosing query, as a SQL expression."""
        terms: list[Any] = []
        for lead in self.catalog.lead:
            if lead.per is not None:
                count = (
                    sa.select(sa.func.count())
                    .select_from(events)
                    .where(events.c.contact_id == contacts.c.id, *self._event_filter(lead.per))
                    .scalar_subquery()
                )
                terms.append(count * lead.points)
            else:
                assert lead.when is not None
                hit = self._named("lead score", lead.when)
                terms.append(sa.case((hit, lead.points), else_=0.0))
        if not terms:
            return sa.literal(0.0)
        return sum(terms[1:], terms[0])

    def _lead_score(self, rule: LeadScore) -> Any:
        return compare(rule.op, self.lead_score(), rule.value)


# ---- queries ---------------------------------------------------------------------------------


def members_query(rule: Rule, *, dialect: str, now: datetime, catalog: Catalog) -> sa.Select:
    """``SELECT id FROM contacts WHERE <rule>`` over the whole base, ordered by id."""
    clause = Compiler(dialect, now, catalog).clause(rule)
    return sa.select(contacts.c.id).where(clause).order_by(contacts.c.id)


def membership_query(
    rules: Mapping[str, Rule],
    contact_id: Any,
    *,
    dialect: str,
    now: datetime,
    catalog: Catalog,
    compiler: Compiler | None = None,
) -> sa.Select:
    """One row with one boolean column per named rule, for one contact (no row: unknown)."""
    compiler = compiler or Compiler(dialect, now, catalog, contact_id=contact_id)
    columns = [
        sa.case((compiler.clause(rule), 1), else_=0).label(f"m{i}")
        for i, rule in enumerate(rules.values())
    ]
    return sa.select(*columns).where(contacts.c.id == contact_id)
