"""The seed's four example rules, on SQLite and PostgreSQL, whole base and one contact."""

from __future__ import annotations

import sqlite3

from journeys.segments import CATALOG
from store import Store
from store.segments import Catalog, SegmentRepo
from store.segments.rules import all_of, any_of, none_of, segment
from tests.segments.helpers import NOW, did, person

OPEN, CLICK, ORDER, ADD = "Email Opened", "Email Link Clicked", "Order Completed", "Product Added"


async def check(store: Store, segment: str, expected: set[str], everyone: set[str]) -> None:
    repo = SegmentRepo(store.engine, CATALOG)
    assert set(await repo.members(segment, now=NOW)) == expected
    assert await repo.count(segment, now=NOW) == len(expected)
    for contact in everyone:
        member = (await repo.memberships(contact, [segment], now=NOW))[segment]
        assert member == (contact in expected), contact


async def test_opened_three_and_bought_recently(db: Store) -> None:
    for c in ("yes", "two_opens", "old_opens", "no_order", "old_order"):
        await person(db, c)
    await did(db, "yes", OPEN, days=2, times=3)
    await did(db, "yes", ORDER, days=5, total=20)
    await did(db, "two_opens", OPEN, days=2, times=2)
    await did(db, "two_opens", ORDER, days=1)
    await did(db, "old_opens", OPEN, days=40, times=5)
    await did(db, "old_opens", ORDER, days=1)
    await did(db, "no_order", OPEN, days=1, times=4)
    await did(db, "old_order", OPEN, days=1, times=4)
    await did(db, "old_order", ORDER, days=45)
    everyone = {"yes", "two_opens", "old_opens", "no_order", "old_order"}
    await check(db, "engaged_buyers", {"yes"}, everyone)


async def test_vip(db: Store) -> None:
    await person(db, "vip", createdAt="2023-01-01T00:00:00Z")
    await person(db, "poor_veteran", createdAt="2023-01-01T00:00:00Z")
    await person(db, "rich_newcomer", createdAt="2025-12-01T00:00:00Z")
    await person(db, "rich_unknown_signup")
    for c in ("vip", "rich_newcomer", "rich_unknown_signup"):
        await did(db, c, ORDER, days=10, total=300)
        await did(db, c, ORDER, days=20, revenue=250)
    await did(db, "poor_veteran", ORDER, days=3, total=500)  # exactly 500: not more than
    everyone = {"vip", "poor_veteran", "rich_newcomer", "rich_unknown_signup"}
    await check(db, "vip", {"vip"}, everyone)


async def test_no_click_for_15_days(db: Store) -> None:
    for c in ("never", "long_ago", "recent"):
        await person(db, c)
    await did(db, "long_ago", CLICK, days=16)
    await did(db, "recent", CLICK, days=14)
    await did(db, "recent", CLICK, days=100)
    await check(db, "no_click_15d", {"never", "long_ago"}, {"never", "long_ago", "recent"})


async def test_abandoned_cart_in_last_7_days(db: Store) -> None:
    for c in ("abandoned", "bought", "old_cart", "browsing"):
        await person(db, c)
    await did(db, "abandoned", ADD, days=2)
    await did(db, "abandoned", ORDER, days=30)
    await did(db, "bought", ADD, days=2)
    await did(db, "bought", ORDER, days=1)
    await did(db, "old_cart", ADD, days=9)
    await did(db, "browsing", "Product Viewed", days=1)
    everyone = {"abandoned", "bought", "old_cart", "browsing"}
    await check(db, "cart_abandoners", {"abandoned"}, everyone)


NESTED = any_of(
    segment("vip"),
    all_of(segment("engaged_buyers"), none_of(segment("cart_abandoners"))),
    all_of(segment("no_click_15d"), segment("cart_abandoners")),
)


async def test_nested_rule_of_the_benchmark(db: Store) -> None:
    # On PostgreSQL the whole base reads it as a union of joins (every branch is anchored on
    # a recent event or a spend range), with an anti-join for none_of; one contact as a clause.
    everyone = ("vip", "engaged", "engaged_cart_clicked", "cart", "cart_clicked", "idle")
    for c in everyone:
        await person(db, c, createdAt="2023-01-01T00:00:00Z")
    await did(db, "vip", ORDER, days=300, total=600)
    for c in ("engaged", "engaged_cart_clicked"):
        await did(db, c, OPEN, days=3, times=3)
        await did(db, c, ORDER, days=10, total=20)
    for c in ("engaged_cart_clicked", "cart", "cart_clicked"):
        await did(db, c, ADD, days=2)
    for c in ("engaged_cart_clicked", "cart_clicked"):
        await did(db, c, CLICK, days=1)
    await did(db, "idle", CLICK, days=40)
    repo = SegmentRepo(db.engine, CATALOG)
    expected = {"vip", "engaged", "cart"}
    assert set(await repo.members(NESTED, now=NOW)) == expected
    assert await repo.count(NESTED, now=NOW) == len(expected)
    assert set(await repo.members(none_of(NESTED), now=NOW)) == set(everyone) - expected
    one = SegmentRepo(db.engine, Catalog(segments={**CATALOG.segments, "nested": NESTED}))
    for c in everyone:
        assert (await one.memberships(c, ["nested"], now=NOW))["nested"] == (c in expected), c


async def test_unknown_contact_is_in_no_segment(db: Store) -> None:
    repo = SegmentRepo(db.engine, CATALOG)
    assert await repo.memberships("ghost", ["no_click_15d", "vip"], now=NOW) == {
        "no_click_15d": False,
        "vip": False,
    }


async def test_sqlite_lookups_read_in_place_and_fall_back_when_busy(db: Store) -> None:
    repo = SegmentRepo(db.engine, CATALOG)
    if db.engine.dialect.name != "sqlite":
        assert repo._reader is None  # asyncpg: one round trip, no reader of its own
        return
    assert repo._reader is not None
    await person(db, "c")
    assert (await repo.memberships("c", ["cart_abandoners"], now=NOW))["cart_abandoners"] is False
    await did(db, "c", ADD, days=1)  # committed through aiosqlite, seen by the reader at once
    assert (await repo.memberships("c", ["cart_abandoners"], now=NOW))["cart_abandoners"]

    class Busy:
        def execute(self, *_: object) -> None:
            raise sqlite3.OperationalError("database is locked")

    repo._reader._conn = Busy()  # type: ignore[assignment]
    assert (await repo.memberships("c", ["cart_abandoners"], now=NOW))["cart_abandoners"]
