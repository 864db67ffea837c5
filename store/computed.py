"""Computed profile fields (orders, spend, last seen, last open/click) derived from events.

They are stored on ``contacts`` rather than derived at query time so that rules such as
"spent more than 500" or "no click for 15 days" read one row per contact. Three ways keep
them right: :func:`event_upsert` updates them in the transaction that appends a track event
(the gateway's path; for a contact's first event it creates the profile in the same statement),
:func:`event_update` does where the profile is known to exist (merging identities), and
:func:`recompute` rebuilds them from the whole log in one statement (bulk loads, repairs).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from store.contacts import empty_profile
from store.jsonsql import typed
from store.schema import When, contacts, events

ORDER = "Order Completed"
OPENED = "Email Opened"
CLICKED = "Email Link Clicked"
# Segment's Order Completed carries ``total`` (what was paid) and ``revenue`` (net); spend is
# what the customer paid, so ``total`` wins when both are there.
AMOUNT_KEYS = ("total", "revenue")


def order_amount(properties: dict[str, Any]) -> float:
    """What an ``Order Completed`` adds to ``total_spent`` (0 when it names no amount)."""
    for key in AMOUNT_KEYS:
        value = properties.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return 0.0


def _latest(col: Any, at: Any) -> Any:
    return sa.case((sa.or_(col.is_(None), col < at), at), else_=col)


def _earliest(col: Any, at: Any) -> Any:
    return sa.case((sa.or_(col.is_(None), col > at), at), else_=col)


def _folded(name: str, *, first: bool = False) -> dict[str, Any]:
    """Column -> expression folding one event of kind ``name`` into a profile: an existing
    one, or (``first``) the empty one this event creates, where every fold starts from
    nothing (no time yet, no orders)."""
    ts = sa.bindparam("computed_at", type_=When)
    c = contacts.c

    def latest(col: Any) -> Any:
        return ts if first else _latest(col, ts)

    def earliest(col: Any) -> Any:
        return ts if first else _earliest(col, ts)

    values: dict[str, Any] = {"last_seen_at": latest(c.last_seen_at)}
    if name == ORDER:
        amount = sa.bindparam("computed_amount", type_=c.total_spent.type)
        values.update(
            order_count=1 if first else c.order_count + 1,
            total_spent=amount if first else c.total_spent + amount,
            first_order_at=earliest(c.first_order_at),
            last_order_at=latest(c.last_order_at),
        )
    elif name == OPENED:
        values["last_email_open_at"] = latest(c.last_email_open_at)
    elif name == CLICKED:
        values["last_email_click_at"] = latest(c.last_email_click_at)
    return values


@cache
def _update_for(name: str) -> Any:
    """The ``UPDATE`` for one kind of event (an order, an open, a click, any other), built
    once with parameters."""
    return (
        contacts.update()
        .where(contacts.c.id == sa.bindparam("computed_id"))
        .values(**_folded(name))
    )


@cache
def _upsert_for(dialect: str, name: str) -> Any:
    """:func:`_update_for` fused with the creation of a contact first seen by this event:
    one ``INSERT … ON CONFLICT DO UPDATE`` instead of an insert-or-nothing and an update.
    Built once per kind with parameters: the gateway runs one per stored track event."""
    created = {
        **empty_profile(sa.bindparam("computed_id"), sa.bindparam("computed_at", type_=When)),
        **_folded(name, first=True),
    }
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(contacts)
        .values(**created)
        .on_conflict_do_update(index_elements=[contacts.c.id], set_=_folded(name))
    )


def _kind(name: str) -> str:
    """The kind of fold an event name gets: an order, an open, a click, or any other (``""``)."""
    return name if name in (ORDER, OPENED, CLICKED) else ""


def _params(contact_id: str, name: str, properties: dict[str, Any], at: datetime) -> dict[str, Any]:
    params: dict[str, Any] = {"computed_id": contact_id, "computed_at": at}
    if _kind(name) == ORDER:
        params["computed_amount"] = order_amount(properties)
    return params


def event_upsert(
    dialect: str, contact_id: str, name: str, properties: dict[str, Any], at: datetime
) -> tuple[Any, dict[str, Any]]:
    """``(statement, parameters)`` creating the contact if new and folding one new track event
    into its computed fields (:func:`event_update` for a contact known to exist)."""
    return _upsert_for(dialect, _kind(name)), _params(contact_id, name, properties, at)


def event_update(
    contact_id: str, name: str, properties: dict[str, Any], at: datetime
) -> tuple[Any, dict[str, Any]]:
    """``(statement, parameters)`` folding one new track event into its contact's computed
    fields; run it as ``conn.execute(statement, parameters)``."""
    return _update_for(_kind(name)), _params(contact_id, name, properties, at)


def recompute(dialect: str) -> Any:
    """One ``UPDATE … FROM`` that rebuilds every computed field from the event log."""
    e = events.c
    amount = sa.func.coalesce(
        typed(e.properties, "total", "number", dialect),
        typed(e.properties, "revenue", "number", dialect),
        0.0,
    )
    is_order = e.name == ORDER

    def when(cond: Any, value: Any) -> Any:
        return sa.case((cond, value), else_=sa.null())

    track = e.type == "track"
    agg = (
        sa.select(
            e.contact_id.label("cid"),
            sa.func.max(e.timestamp).label("seen"),
            sa.func.count(when(is_order, 1)).label("orders"),
            sa.func.coalesce(sa.func.sum(when(is_order, amount)), 0.0).label("spent"),
            sa.func.min(when(is_order, e.timestamp)).label("first_order"),
            sa.func.max(when(is_order, e.timestamp)).label("last_order"),
            sa.func.max(when(e.name == OPENED, e.timestamp)).label("opened"),
            sa.func.max(when(e.name == CLICKED, e.timestamp)).label("clicked"),
        )
        .where(track)
        .group_by(e.contact_id)
        .subquery()
    )
    return (
        contacts.update()
        .where(contacts.c.id == agg.c.cid)
        .values(
            last_seen_at=agg.c.seen,
            order_count=agg.c.orders,
            total_spent=agg.c.spent,
            first_order_at=agg.c.first_order,
            last_order_at=agg.c.last_order,
            last_email_open_at=agg.c.opened,
            last_email_click_at=agg.c.clicked,
        )
    )
