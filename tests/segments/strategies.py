"""Hypothesis strategies: random profiles, events, scores and rules over a small vocabulary.

Values are chosen so that both backends must agree exactly: amounts are whole numbers (no float
summation-order noise), strings are lower-case ASCII (no collation differences), and traits
sometimes hold a value of an unexpected type, to exercise the type guards.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from store.segments import Catalog
from store.segments.rfm import group_of
from store.segments.rules import (
    RFM,
    RFM_GROUPS,
    AllOf,
    AnyOf,
    EventCond,
    Interest,
    LeadRule,
    LeadScore,
    NoneOf,
    PropertyFilter,
    SegmentRef,
    Tag,
    Trait,
    did,
    trait,
)
from tests.segments.helpers import NOW

EVENTS = ("Email Opened", "Email Link Clicked", "Order Completed", "Product Added")
WORDS = ("free", "pro", "team", "fr", "de")
TAGS = ("a", "b", "auto")
INTERESTS = ("fashion", "sport")
TIME_FIELDS = ("signup_at", "created_at", "last_order_at", "last_email_open_at")

CATALOG = Catalog(
    segments={"pros": trait("plan", "=", "pro")},
    auto_tags={"auto": did("Email Opened", at_least=2, days=20)},
    lead=(
        LeadRule(points=10, per=did("Order Completed", days=7)),
        LeadRule(points=-5, when=did("Email Link Clicked", days=10)),
    ),
)

moment = st.integers(0, 60 * 24).map(lambda h: NOW - timedelta(hours=h))
maybe_moment = st.none() | moment
json_value = st.one_of(st.sampled_from(WORDS), st.integers(-5, 50), st.booleans(), st.none())


@st.composite
def contact(draw: Any, index: int) -> dict[str, Any]:
    traits = {k: draw(json_value) for k in draw(st.sets(st.sampled_from(["plan", "age", "vip"])))}
    return {
        "id": f"c{index}",
        "country": draw(st.none() | st.sampled_from(WORDS)),
        "email": draw(st.none() | st.just(f"c{index}@example.com")),
        "traits": traits,
        "tags": sorted(draw(st.sets(st.sampled_from(TAGS)))),
        "interests": sorted(draw(st.sets(st.sampled_from(INTERESTS)))),
        "created_at": draw(moment),
        "signup_at": draw(maybe_moment),
        "order_count": draw(st.integers(0, 4)),
        "total_spent": float(draw(st.integers(0, 900))),
        "last_order_at": draw(maybe_moment),
        "last_email_open_at": draw(maybe_moment),
    }


@st.composite
def event(draw: Any, contact_id: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if draw(st.booleans()):
        props["total"] = draw(st.integers(0, 300) | st.just("n/a"))
    if draw(st.booleans()):
        props["category"] = draw(st.sampled_from(INTERESTS))
    return {
        "contact_id": contact_id,
        "name": draw(st.sampled_from(EVENTS)),
        "properties": props,
        "timestamp": draw(moment),
    }


@st.composite
def dataset(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(1, 6))
    contacts = [draw(contact(i)) for i in range(n)]
    events = [draw(event(c["id"])) for c in contacts for _ in range(draw(st.integers(0, 5)))]
    scores = {}
    for c in contacts:
        if draw(st.booleans()):
            r, f, m = (draw(st.integers(1, 5)) for _ in range(3))
            scores[c["id"]] = {
                "recency": r,
                "frequency": f,
                "monetary": m,
                "rfm_group": group_of(r, f),
            }
    return {"contacts": contacts, "events": events, "scores": scores}


def _json_trait() -> st.SearchStrategy[Trait]:
    field = st.sampled_from(["plan", "age", "vip", "nope"])
    scalar = st.sampled_from(WORDS) | st.integers(-5, 50) | st.booleans()
    compare = st.builds(
        Trait, field=field, op=st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), value=scalar
    )
    member = st.builds(
        Trait,
        field=field,
        op=st.just("in"),
        value=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)
        | st.lists(st.integers(-5, 50), min_size=1, max_size=3),
    )
    between = st.builds(
        Trait,
        field=field,
        op=st.just("between"),
        value=st.lists(st.integers(-5, 50), min_size=2, max_size=2).map(sorted),
    )
    contains = st.builds(Trait, field=field, op=st.just("contains"), value=st.sampled_from("rfe"))
    exists = st.builds(Trait, field=field, op=st.just("exists"))
    return compare | member | between | contains | exists


def _column_trait() -> st.SearchStrategy[Trait]:
    country = st.builds(
        Trait,
        field=st.just("country"),
        op=st.sampled_from(["=", "!=", "<", "contains", "exists"]),
        value=st.sampled_from(WORDS),
    )
    spent = st.builds(
        Trait,
        field=st.sampled_from(["total_spent", "order_count"]),
        op=st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
        value=st.integers(0, 900),
    )
    times = st.builds(
        Trait,
        field=st.sampled_from(TIME_FIELDS),
        op=st.sampled_from(["before", "after", "within"]),
        days=st.integers(0, 60).map(float),
    )
    return country | spent | times


def _event() -> st.SearchStrategy[EventCond]:
    where = st.lists(
        st.builds(
            PropertyFilter,
            property=st.just("category"),
            op=st.just("="),
            value=st.sampled_from(INTERESTS),
        )
        | st.builds(
            PropertyFilter,
            property=st.just("total"),
            op=st.sampled_from([">", "<=", "exists"]),
            value=st.integers(0, 300),
        ),
        max_size=1,
    )
    common = dict(
        event=st.sampled_from(EVENTS),
        where=where,
        days=st.none() | st.integers(1, 60).map(float),
        op=st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
    )
    # Whole numbers, halves and thresholds past the ladder's 8 ranks (raw events answer those).
    threshold = st.integers(0, 4) | st.sampled_from([0.5, 2.5, 8, 9])
    count = st.builds(EventCond, measure=st.just("count"), value=threshold, **common)
    amounts = st.builds(
        EventCond,
        measure=st.sampled_from(["sum", "avg"]),
        property=st.just("total"),
        value=st.integers(0, 400),
        **common,
    )
    return count | amounts


def _leaf() -> st.SearchStrategy[Any]:
    return st.one_of(
        _json_trait(),
        _column_trait(),
        _event(),
        st.builds(Tag, tag=st.sampled_from(TAGS)),
        st.builds(Interest, interest=st.sampled_from(INTERESTS)),
        st.just(SegmentRef(name="pros")),
        st.builds(
            RFM,
            groups=st.lists(st.sampled_from(RFM_GROUPS), max_size=2),
            recency=st.lists(st.integers(1, 5), max_size=2),
        ),
        st.builds(
            LeadScore, op=st.sampled_from(["<", ">=", "="]), value=st.sampled_from([-5, 0, 10, 20])
        ),
    )


rules = st.recursive(
    _leaf(),
    lambda children: st.one_of(
        st.builds(AllOf, rules=st.lists(children, max_size=3)),
        st.builds(AnyOf, rules=st.lists(children, max_size=3)),
        st.builds(NoneOf, rules=st.lists(children, max_size=3)),
    ),
    max_leaves=6,
)
