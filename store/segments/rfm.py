"""RFM scores: recency, frequency and monetary quintiles (1–5, 5 best) over the buyers.

Quintiles are relative to the whole base, so they are computed in one batch statement and
stored in ``contact_scores`` (refreshed by ``sojourn segments refresh`` and at the start of every
segment enrollment run) rather than per lookup. A score is ``1 + 5·(rank − 1) // n`` where
``rank`` is SQL's ``RANK()`` (ties share the lowest rank) among the ``n`` contacts with at least
one order: deterministic on both backends, and ties never split across quintiles.
"""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from store.schema import contact_scores, contacts

# (group, recency range, frequency range); the first match wins. The classic R×F grid.
GROUPS: tuple[tuple[str, tuple[int, int], tuple[int, int]], ...] = (
    ("champions", (4, 5), (4, 5)),
    ("loyal", (3, 5), (3, 5)),
    ("new", (5, 5), (1, 1)),
    ("promising", (4, 5), (1, 5)),
    ("at_risk", (1, 2), (3, 5)),
    ("hibernating", (1, 2), (1, 5)),
    ("need_attention", (1, 5), (1, 5)),
)
# Which profile column each score ranks, ascending (a later last order is a better recency).
SCORED = {"recency": "last_order_at", "frequency": "order_count", "monetary": "total_spent"}


def group_of(recency: int, frequency: int) -> str:
    """The RFM group name for a pair of scores."""
    for name, (r_lo, r_hi), (f_lo, f_hi) in GROUPS:
        if r_lo <= recency <= r_hi and f_lo <= frequency <= f_hi:
            return name
    raise AssertionError("need_attention covers every score")


def _group_case(r: Any, f: Any) -> Any:
    whens = [
        (sa.and_(r.between(r_lo, r_hi), f.between(f_lo, f_hi)), name)
        for name, (r_lo, r_hi), (f_lo, f_hi) in GROUPS
    ]
    return sa.case(*whens)


def buyers() -> Any:
    """Who gets scores: contacts with an order (and so a last order time)."""
    return sa.and_(contacts.c.order_count > 0, contacts.c.last_order_at.is_not(None))


def refresh_statements(now: datetime) -> list[Any]:
    """Replace every stored score: a ``DELETE`` and one ``INSERT … SELECT`` with windows."""
    total = sa.select(sa.func.count().label("n")).where(buyers()).subquery()
    ranked = (
        sa.select(
            contacts.c.id.label("contact_id"),
            *(
                (1 + (5 * (sa.func.rank().over(order_by=contacts.c[col]) - 1)) // total.c.n).label(
                    score
                )
                for score, col in SCORED.items()
            ),
        )
        .select_from(contacts.join(total, sa.true()))
        .where(buyers())
        .subquery()
    )
    select = sa.select(
        ranked.c.contact_id,
        ranked.c.recency,
        ranked.c.frequency,
        ranked.c.monetary,
        _group_case(ranked.c.recency, ranked.c.frequency),
        sa.literal(now, contact_scores.c.computed_at.type),
    )
    insert = contact_scores.insert().from_select(
        ["contact_id", "recency", "frequency", "monetary", "rfm_group", "computed_at"], select
    )
    return [contact_scores.delete(), insert]


def quintiles(values: dict[str, Any]) -> dict[str, int]:
    """Reference scores for ``{contact: value}`` (the same formula as the SQL, in Python)."""
    ordered = sorted(values.values())
    n = len(ordered)
    out = {}
    for contact, value in values.items():
        rank = 1 + bisect.bisect_left(ordered, value)
        out[contact] = 1 + (5 * (rank - 1)) // n
    return out
