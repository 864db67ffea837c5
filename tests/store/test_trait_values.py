"""Any JSON value under a typed trait name is either normalised or refused naming the trait.

Never another exception: one would be a 500 for the call, and for every call of its batch.
Values are drawn around what breaks parsers: date-times at the calendar's edges with any
offset, dates, numbers, booleans, nested values, long and blank strings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from store.contacts import (
    COLUMN_TRAITS,
    InvalidTrait,
    columns_from_traits,
    normalise_traits,
)

offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.one_of(
    st.datetimes(timezones=st.none() | offsets),
    st.sampled_from([datetime.min, datetime.max]).flatmap(
        lambda edge: offsets.map(lambda tz: edge.replace(tzinfo=tz))
    ),
)
texts = st.one_of(
    moments.map(datetime.isoformat),
    moments.map(lambda m: m.isoformat(" ")),
    moments.map(lambda m: m.date().isoformat()),
    st.text(max_size=300),
    st.sampled_from(["", " ", "Europe/Paris", "UTC", "a@b.io", "24:00", "2020-02-30"]),
)
scalars = st.one_of(texts, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3)
)
typed = sorted({*COLUMN_TRAITS, "address"})


@settings(max_examples=600, deadline=None)
@given(traits=st.dictionaries(st.sampled_from(typed), values, max_size=4))
def test_typed_traits_are_normalised_or_refused_by_name(traits: dict[str, Any]) -> None:
    try:
        clean = normalise_traits(traits)
    except InvalidTrait as refused:
        name = refused.field.removeprefix("traits.").split(".")[0]
        assert name in traits
        return
    columns = columns_from_traits(clean)
    if columns.get("signup_at") is not None:
        assert columns["signup_at"].tzinfo == UTC
