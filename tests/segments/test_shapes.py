"""Which rules are anchored, and which have an exact complement (counting by complement)."""

from __future__ import annotations

from journeys.segments import SEGMENTS
from store.segments.rules import EventCond, all_of, any_of, did, did_not, none_of, segment, trait
from store.segments.shapes import anchored, complement

NESTED = any_of(
    segment("vip"),
    all_of(segment("engaged_buyers"), none_of(segment("cart_abandoners"))),
    all_of(segment("no_click_15d"), segment("cart_abandoners")),
)


def test_seed_segments_are_anchored_except_the_absence_rule() -> None:
    for name in ("engaged_buyers", "vip", "cart_abandoners"):
        assert anchored(segment(name), SEGMENTS), name
    assert anchored(NESTED, SEGMENTS)
    assert not anchored(segment("no_click_15d"), SEGMENTS)
    assert not anchored(trait("plan", "=", "pro"), SEGMENTS)  # no index on traits


def test_complements_are_exact_or_absent() -> None:
    clicked = complement(segment("no_click_15d"), SEGMENTS)
    # did_not is "count = 0": its complement "count != 0", read as "at least 1" off the ladder.
    assert clicked == did_not("Email Link Clicked", days=15).model_copy(update={"op": "!="})
    assert clicked is not None and anchored(clicked, SEGMENTS)
    assert complement(none_of(did("A")), SEGMENTS) == any_of(did("A"))
    assert complement(all_of(did("A", at_least=2), did("B", at_least=3)), SEGMENTS) == any_of(
        did("A", at_least=2).model_copy(update={"op": "<"}),
        did("B", at_least=3).model_copy(update={"op": "<"}),
    )
    # A missing trait fails both a rule and its negation; an average of nothing is NULL.
    assert complement(all_of(did("A"), trait("plan", "=", "pro")), SEGMENTS) is None
    average = EventCond(event="Order Completed", measure="avg", property="total", value=50)
    assert complement(average, SEGMENTS) is None
    assert complement(segment("missing"), SEGMENTS) is None
