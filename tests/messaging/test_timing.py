"""Quiet hours (DST-correct) and frequency caps: deferral, skip, and the atomic race."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from activities.policy import DEFAULT_CAPS, CapRule, MessagingPolicy
from activities.timing import cap_not_before, next_send_window
from store import Store
from tests.messaging.conftest import add_contact, deliver, make_sender, prepare, request

ALL_DAYS = list(range(7))
WINDOW = (time(8), time(21))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_quiet_hours_follow_the_contact_timezone_across_dst() -> None:
    paris = "Europe/Paris"
    # Winter (CET, UTC+1): 07:30 local is 06:30 UTC; the window opens 08:00 local = 07:00 UTC.
    assert next_send_window(utc(2026, 3, 28, 6, 30), paris, *WINDOW, ALL_DAYS) == utc(
        2026, 3, 28, 7
    )
    # DST starts that night: on the 29th 08:00 local (CEST, UTC+2) is 06:00 UTC.
    assert next_send_window(utc(2026, 3, 28, 21, 30), paris, *WINDOW, ALL_DAYS) == utc(
        2026, 3, 29, 6
    )
    assert next_send_window(utc(2026, 3, 29, 6, 30), paris, *WINDOW, ALL_DAYS) is None
    # 20:59 local is inside, 21:00 local is not.
    assert next_send_window(utc(2026, 7, 1, 18, 59), paris, *WINDOW, ALL_DAYS) is None
    assert next_send_window(utc(2026, 7, 1, 19, 0), paris, *WINDOW, ALL_DAYS) == utc(2026, 7, 2, 6)
    # New York is still in winter time on 2026-03-07 (DST starts 03-08).
    assert next_send_window(utc(2026, 3, 7, 12), "America/New_York", *WINDOW, ALL_DAYS) == utc(
        2026, 3, 7, 13
    )


def test_quiet_days_move_to_the_next_allowed_day() -> None:
    weekdays = [0, 1, 2, 3, 4]
    saturday = utc(2026, 3, 7, 12)
    assert next_send_window(saturday, "UTC", *WINDOW, weekdays) == utc(2026, 3, 9, 8)


def test_caps_defaults_one_a_day_three_a_week() -> None:
    t0 = utc(2026, 3, 2, 10)
    assert cap_not_before([], t0, DEFAULT_CAPS) is None
    assert cap_not_before([t0], t0 + timedelta(hours=1), DEFAULT_CAPS) == t0 + timedelta(days=1)
    week = [t0, t0 + timedelta(days=1), t0 + timedelta(days=2)]
    assert cap_not_before(week, t0 + timedelta(days=3), DEFAULT_CAPS) == t0 + timedelta(days=7)
    assert cap_not_before(week, t0 + timedelta(days=7, hours=1), DEFAULT_CAPS) is None


def capped_policy(**fields: object) -> MessagingPolicy:
    values: dict[str, object] = dict(
        public_url="https://links.test", quiet_hours=False, frequency_caps=list(DEFAULT_CAPS)
    )
    values.update(fields)
    return MessagingPolicy(**values)  # type: ignore[arg-type]


async def test_two_journeys_racing_send_one_message(store: Store, outbox: object) -> None:
    sender = make_sender(store, outbox, capped_policy())  # type: ignore[arg-type]
    contact = await add_contact(store)
    first = request(contact, journey="welcome")
    second = request(contact, journey="cross_sell", template="cross_sell/thank_you")
    await prepare(sender, first)
    await prepare(sender, second)
    results = await asyncio.gather(deliver(sender, first.key), deliver(sender, second.key))
    assert sorted(r.status for r in results) == ["deferred", "sent"]
    held = next(r for r in results if r.status == "deferred")
    assert held.reason == "frequency_cap" and held.not_before is not None
    # Recorded: the held message's row says until when and why.
    key = first.key if results[0].status == "deferred" else second.key
    not_before, deferrals = await store.messages.deferral(key)
    assert (not_before, deferrals) == (held.not_before, 1)
    # Transactional messages are exempt.
    receipt = request(contact, topic="transactional")
    await prepare(sender, receipt)
    assert (await deliver(sender, receipt.key)).status == "sent"
    # Once the window passed, the held message goes (the journey's timer woke it up).
    later = held.not_before + timedelta(minutes=1)
    assert (await prepare(sender, request(contact))).status == "deferred"
    assert (await deliver(sender, key, at=later)).status == "sent"


async def test_a_step_may_skip_instead_of_waiting(store: Store, outbox: object) -> None:
    sender = make_sender(store, outbox, capped_policy(frequency_caps=[CapRule(count=1, hours=24)]))  # type: ignore[arg-type]
    contact = await add_contact(store)
    first = request(contact)
    await prepare(sender, first)
    assert (await deliver(sender, first.key)).status == "sent"
    skipped = await prepare(sender, request(contact, on_cap="skip"))
    assert (skipped.status, skipped.reason) == ("skipped", "frequency_cap")
    rows = await store.messages.list(contact_id=contact, status="skipped")
    assert [m.reason for m in rows] == ["frequency_cap"]


async def test_quiet_hours_defer_marketing_but_not_transactional(
    store: Store, outbox: object
) -> None:
    now = datetime.now(UTC)
    other_days = [d for d in range(7) if d != now.weekday()]
    policy = capped_policy(frequency_caps=[], quiet_hours=True, send_days=other_days)
    sender = make_sender(store, outbox, policy)  # type: ignore[arg-type]
    contact = await add_contact(store, timezone="UTC")
    held = await prepare(sender, request(contact))
    assert held.status == "deferred" and held.reason == "quiet_hours"
    assert held.not_before == datetime.combine(
        (now + timedelta(days=1)).date(), time(8), tzinfo=UTC
    )
    assert (await prepare(sender, request(contact, topic="transactional"))).status == "prepared"
