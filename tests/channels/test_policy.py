"""Caps across channels (an email and an SMS racing), per-channel limits, SMS quiet hours."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from activities.policy import CapRule, MessagingPolicy
from store import Store
from store.frequency import FrequencyRepo
from tests.channels.conftest import add_contact, grant_sms, make_sender, send, send_request


async def test_an_email_and_an_sms_racing_share_the_cross_channel_cap(
    store: Store, policy: MessagingPolicy, tmp_path: Path
) -> None:
    capped = policy.model_copy(update={"frequency_caps": [CapRule(count=1, hours=24)]})
    sender = make_sender(store, capped, tmp_path)
    contact = await add_contact(store)
    await grant_sms(store, contact)
    at = datetime.now(UTC)
    email, sms = await asyncio.gather(
        send(sender, send_request(contact, channel="email", at=at)),
        send(sender, send_request(contact, channel="sms", at=at)),
    )
    outcomes = sorted([email.status, sms.status])
    assert outcomes == ["deferred", "sent"], (email, sms)
    held = email if email.status == "deferred" else sms
    assert held.reason == "frequency_cap" and held.not_before is not None
    assert held.not_before - at >= timedelta(hours=23, minutes=59)
    slots = await FrequencyRepo(store.engine).sends(contact)
    assert len(slots) == 1


async def test_per_channel_limits_leave_other_channels_alone(
    store: Store, policy: MessagingPolicy, tmp_path: Path
) -> None:
    limited = policy.model_copy(update={"channel_caps": {"sms": [CapRule(count=1, hours=24)]}})
    sender = make_sender(store, limited, tmp_path)
    contact = await add_contact(store)
    await grant_sms(store, contact)
    assert (await send(sender, send_request(contact))).status == "sent"
    second = await send(sender, send_request(contact))
    assert second.status == "deferred" and second.reason == "frequency_cap"
    assert (await send(sender, send_request(contact, channel="email"))).status == "sent"
    skipped = await send(sender, send_request(contact, on_cap="skip"))
    assert skipped.status == "skipped"
    # Only the SMS that left holds a slot of the SMS limit.
    assert len(await FrequencyRepo(store.engine).sends(contact, "sms")) == 1


async def test_sms_waits_for_the_morning_in_the_contacts_timezone(
    store: Store, policy: MessagingPolicy, tmp_path: Path
) -> None:
    quiet = policy.model_copy(
        update={"quiet_hours": True, "send_window_start": time(8), "send_window_end": time(21)}
    )
    sender = make_sender(store, quiet, tmp_path)
    contact = await add_contact(store, phone="+12125550123", timezone="America/New_York")
    await grant_sms(store, contact)
    new_york = ZoneInfo("America/New_York")
    tomorrow = (datetime.now(new_york) + timedelta(days=1)).date()
    night = datetime.combine(tomorrow, time(3, 0), tzinfo=new_york)
    held = await send(sender, send_request(contact, at=night.astimezone(UTC)))
    assert held.status == "deferred" and held.reason == "quiet_hours"
    morning = datetime.combine(tomorrow, time(8, 0), tzinfo=new_york)
    assert held.not_before == morning.astimezone(UTC)
    # Transactional SMS (an order update) is not held by quiet hours.
    urgent = await send(
        sender, send_request(contact, topic="transactional", at=night.astimezone(UTC))
    )
    assert urgent.status == "sent"
