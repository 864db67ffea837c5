"""Profiles: well-known traits are validated, normalised and mirrored; merges are LWW."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from store import Store
from store.contacts import InvalidTrait

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_identify_mirrors_profile_traits(db: Store) -> None:
    await db.contacts.identify(
        "u1",
        {
            "email": "  Ada@Example.COM ",
            "firstName": "Ada",
            "timezone": "Europe/Paris",
            "address": {"country": "FR", "city": "Lyon"},
            "birthday": "1990-04-01",
            "createdAt": "2024-01-02T03:04:05Z",
            "tags": ["vip", "beta", "vip"],
            "interests": "fashion, sport",
            "plan": "pro",
        },
        T0,
    )
    c = await db.contacts.get("u1")
    assert c is not None
    assert c.email == "Ada@example.com"
    assert (c.first_name, c.timezone, c.country, c.city) == ("Ada", "Europe/Paris", "FR", "Lyon")
    assert c.birthday == date(1990, 4, 1)
    assert c.signup_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert c.tags == ["beta", "vip"]
    assert c.interests == ["fashion", "sport"]
    assert c.traits["plan"] == "pro"


async def test_last_write_wins_per_trait_by_event_time(db: Store) -> None:
    await db.contacts.identify("u1", {"plan": "pro", "city": "Lyon"}, T0 + timedelta(hours=2))
    await db.contacts.identify("u1", {"plan": "free", "country": "FR"}, T0)  # late arrival
    c = await db.contacts.get("u1")
    assert c is not None
    assert c.traits["plan"] == "pro"
    assert (c.city, c.country) == ("Lyon", "FR")


@pytest.mark.parametrize(
    ("traits", "field"),
    [
        ({"email": "not-an-address"}, "traits.email"),
        ({"timezone": "Mars/Olympus"}, "traits.timezone"),
        ({"birthday": "yesterday"}, "traits.birthday"),
        ({"createdAt": "soon"}, "traits.createdAt"),
        ({"tags": [1, 2]}, "traits.tags"),
    ],
)
async def test_invalid_traits_name_the_field(db: Store, traits: dict, field: str) -> None:
    with pytest.raises(InvalidTrait) as caught:
        await db.contacts.identify("u1", traits, T0)
    assert caught.value.field == field
    assert await db.contacts.get("u1") is None


async def test_concurrent_identifies_keep_every_trait(db: Store) -> None:
    """Thirty identifies racing on one contact: each trait survives, on both databases."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    await db.contacts.identify("racer", {"email": "racer@example.com"}, at)
    await asyncio.gather(*(db.contacts.identify("racer", {f"trait_{n}": n}, at) for n in range(30)))
    contact = await db.contacts.get("racer")
    assert contact is not None
    assert {f"trait_{n}": n for n in range(30)}.items() <= contact.traits.items()


@pytest.mark.parametrize(
    ("created", "kept"),
    [
        # Valid ISO 8601 date-times that fall outside Python's range once converted to UTC.
        ("9999-12-31T23:59:59-01:00", datetime.max.replace(tzinfo=UTC)),
        ("0001-01-01T00:00:00+01:00", datetime.min.replace(tzinfo=UTC)),
    ],
)
async def test_a_signup_time_past_the_calendar_in_utc_is_kept_at_its_edge(
    db: Store, created: str, kept: datetime
) -> None:
    # These were an OverflowError: a 500 for the identify, and for a whole batch beside it.
    await db.contacts.identify("u1", {"createdAt": created, "plan": "pro"}, T0)
    c = await db.contacts.get("u1")
    assert c is not None
    assert c.signup_at == kept
    assert c.traits["plan"] == "pro"
