"""The fast path of email normalisation agrees with email-validator on every input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from store.contacts import InvalidTrait, _validate, normalise_email

local = st.text(alphabet="abcXYZ09.+-_!~'\"() @é", min_size=0, max_size=70)
domain = st.sampled_from(
    [
        "example.com",
        "EXAMPLE.com",
        "x",
        "-bad.com",
        "a..b.com",
        "xn--bcher-kva.ch",
        "bücher.ch",
        "localhost",
        "e.c" * 90,
    ]
)


def full(address: str) -> str | None:
    try:
        part, dom = _validate(address.strip())
    except InvalidTrait:
        return None
    return f"{part}@{dom}"


def fast(address: str) -> str | None:
    try:
        return normalise_email(address)
    except InvalidTrait:
        return None


@settings(max_examples=300, deadline=None)
@given(local=local, domain=domain, pad=st.sampled_from(["", " ", "\t"]))
def test_fast_path_agrees_with_email_validator(local: str, domain: str, pad: str) -> None:
    address = f"{pad}{local}@{domain}{pad}"
    assert fast(address) == full(address)
