"""The recent-event ladder: each contact's latest event times per event name, by rank.

``event_ranks`` holds, per contact and event name, the timestamps of its ``RANKS`` most recent
events: rank 1 the newest, rank 2 the one before, and so on. "At least k events in the last d
days" is then exactly "the k-th newest is at most d days old": a whole-base rule such as "opened
3 emails in 30 days" reads one index range (``name, rank = 3, at >= cutoff``, about one entry per
qualifying contact) instead of grouping every open of the month by contact. Any count
threshold up to ``RANKS`` (``=``, ``<``, ``!=``… are combinations of "at least k") compiles to
the ladder; filtered conditions, sums, averages and larger thresholds read the raw events.

Per-day aggregates were the other candidate; on a realistic log (10M events, 1M contacts) a
month of opens is 181k events but still 165k (contact, day) pairs, so they would hardly shrink
what a rule reads, while the ladder shrinks it to one row per contact.

The ladder is rebuilt for (contact, name) in the transaction that stores each event
(:func:`refresh`), when an anonymous history moves to its user, and in bulk by :func:`backfill`
(migration ``0014_aggregates``, restores, the benchmark).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from store.schema import contacts, event_ranks, events

if TYPE_CHECKING:
    from store.segments.compiler import Compiler
    from store.segments.rules import EventCond

RANKS = 8
COLUMNS = ["contact_id", "name", "rank", "happened_at"]


def _ranked(*where: Any) -> Any:
    e = events.c
    rank = sa.func.row_number().over(
        partition_by=(e.contact_id, e.name), order_by=(e.timestamp.desc(), e.seq.desc())
    )
    inner = (
        sa.select(e.contact_id, e.name, rank.label("rank"), e.timestamp.label("happened_at"))
        .where(*where)
        .subquery()
    )
    return sa.select(inner.c.contact_id, inner.c.name, inner.c.rank, inner.c.happened_at).where(
        inner.c.rank <= RANKS
    )


def _newest(contact_id: Any, name: Any) -> Any:
    """One contact's ``RANKS`` newest events of one name, ranked: a walk of ``RANKS`` entries
    down ``ix_events_contact_name_time`` however long the history. (:func:`_ranked` numbers
    every event of the pair first, which cost a heavy user's whole history on every event.)"""
    e = events.c
    newest = (
        sa.select(e.contact_id, e.name, e.timestamp, e.seq)
        .where(e.contact_id == contact_id, e.name == name)
        .order_by(e.timestamp.desc(), e.seq.desc())
        .limit(RANKS)
        .subquery()
    )
    rank = sa.func.row_number().over(order_by=(newest.c.timestamp.desc(), newest.c.seq.desc()))
    return sa.select(newest.c.contact_id, newest.c.name, rank, newest.c.timestamp)


def refresh(contact_id: Any, name: Any) -> list[Any]:
    """Statements that rebuild one contact's ladder for one event name (values, or
    ``sa.bindparam``s for statements built once and executed with parameters)."""
    r = event_ranks.c
    return [
        event_ranks.delete().where(r.contact_id == contact_id, r.name == name),
        event_ranks.insert().from_select(COLUMNS, _newest(contact_id, name)),
    ]


def refresh_contact(contact_id: str) -> list[Any]:
    """Statements that rebuild one contact's whole ladder (every event name)."""
    return [
        event_ranks.delete().where(event_ranks.c.contact_id == contact_id),
        event_ranks.insert().from_select(
            COLUMNS,
            _ranked(events.c.contact_id == contact_id),
        ),
    ]


def backfill() -> list[Any]:
    """Statements that rebuild the whole ladder from the event log."""
    return [
        event_ranks.delete(),
        event_ranks.insert().from_select(COLUMNS, _ranked()),
    ]


# ---- reading it: count conditions as questions to the ladder ------------------------------


def at_least(compiler: Compiler, rule: EventCond, k: int, negated: bool = False) -> Any:
    """ "``rule.event`` at least ``k`` times (in the window)": the k-th newest is recent.

    ``negated``: fewer than ``k`` times. PostgreSQL gets ``NOT EXISTS`` there, which it
    plans as an anti-join; ``NOT IN`` (NULL-aware) is a filter on every contact. SQLite
    keeps ``NOT IN``: one probe of a small in-memory index per contact, where a correlated
    ``NOT EXISTS`` would be a seek into the whole ladder.
    """
    if k <= 0:
        return sa.false() if negated else sa.true()
    r = event_ranks.c
    conds = [r.name == rule.event, r.rank == k]
    if rule.days is not None:
        conds.append(r.happened_at >= compiler.cutoff(rule.days))
    if negated and compiler.dialect == "postgresql":
        return ~sa.exists().where(r.contact_id == contacts.c.id, *conds)
    query = sa.select(r.contact_id).where(*conds)
    return contacts.c.id.not_in(query) if negated else contacts.c.id.in_(query)


def condition(compiler: Compiler, rule: EventCond) -> Any:
    """An unfiltered count condition as "at least k" questions to the ladder, or None."""
    if rule.measure != "count" or rule.where:
        return None
    v, op = rule.value, rule.op
    if op in ("=", "!="):
        if v != int(v) or v < 0:
            return sa.true() if op == "!=" else sa.false()
        needed = [int(v), int(v) + 1]
    else:
        needed = [math.ceil(v) if op in (">=", "<") else math.floor(v) + 1]
    if max(needed) > RANKS:
        return None  # beyond the ladder: the raw events answer
    if op in (">=", ">"):
        return at_least(compiler, rule, needed[0])
    if op in ("<", "<="):
        return at_least(compiler, rule, needed[0], negated=True)
    low, high = needed
    # "exactly v" is "at least v and not at least v + 1"; "!= v" its negation, spelled out so
    # PostgreSQL sees a plain EXISTS / NOT EXISTS it can turn into a join (a NOT around NOT
    # EXISTS is left as a filter run once per contact).
    if op == "=":
        below = at_least(compiler, rule, high, negated=True)
        return sa.and_(at_least(compiler, rule, low), below) if low > 0 else below
    above = at_least(compiler, rule, high)
    return sa.or_(at_least(compiler, rule, low, negated=True), above) if low > 0 else above
