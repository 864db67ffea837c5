"""A small, known store for report tests: a welcome journey with an experiment and a holdout.

Six treated contacts get the hello email, three per subject arm; two are held out.

- c1 opens the hello and orders 4 hours later (40): credited to the hello (open window).
- c2 clicks the hello and orders 3 days later (60): credited to the hello (click window).
- c3 opens the hello and orders 3 days later: outside the open window, not credited.
- c4 opens the hello, gets the offer 3 days later, clicks it, orders (100): the offer, the last
  message engaged with, gets it.
- c5's hello bounces; c6 unsubscribes from it.
- h1 (held out) orders (30); h2 does nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from store import Store
from store.records import EventRecord, MessageRecord

JOURNEY = "welcome"
EXPERIMENT = "welcome-subject"
HELLO, OFFER = "01-welcome/hello", "03-welcome/offer"


async def message(
    store: Store, contact: str, step: str, at: datetime, channel: str = "email"
) -> str:
    message_id = uuid.uuid4().hex
    key = f"welcome-{contact}/e/{step}"
    await store.messages.prepare(
        MessageRecord(
            key=key,
            message_id=message_id,
            contact_id=contact,
            journey=JOURNEY,
            step=step,
            template=step[3:],
            topic="marketing",
            status="prepared",
            created_at=at,
            channel=channel,
        )
    )
    await store.messages.mark(key, "sent", at=at, provider="outbox")
    return message_id


async def event(store: Store, contact: str, name: str, at: datetime, **properties: Any) -> None:
    await store.events.append(
        EventRecord(
            message_id=uuid.uuid4().hex,
            contact_id=contact,
            name=name,
            properties=properties,
            timestamp=at,
            received_at=at,
        )
    )


async def seed(store: Store, start: datetime) -> None:
    """Write the story above, starting at ``start``."""
    h = timedelta(hours=1)
    d = timedelta(days=1)
    for n, contact in enumerate(["c1", "c2", "c3", "c4", "c5", "c6"]):
        arm = "plain" if n < 3 else "question"
        await store.experiments.assign(f"holdout:{JOURNEY}", JOURNEY, contact, "treated", start)
        await store.experiments.assign(EXPERIMENT, JOURNEY, contact, arm, start)
        hello = await message(store, contact, HELLO, start)
        await store.experiments.link(EXPERIMENT, contact, hello)
        await event(store, contact, "Email Delivered", start + h / 60, email_id=hello)
        if contact in ("c1", "c3", "c4"):
            await event(store, contact, "Email Opened", start + h, email_id=hello)
        if contact == "c2":
            await event(store, contact, "Email Link Clicked", start + 2 * h, email_id=hello)
        if contact == "c5":
            await event(store, contact, "Email Bounced", start + h, email_id=hello)
        if contact == "c6":
            await event(store, contact, "Unsubscribed", start + h, email_id=hello)
    await event(store, "c1", "Order Completed", start + 5 * h, revenue=40)
    await event(store, "c2", "Order Completed", start + 3 * d, revenue=60)
    await event(store, "c3", "Order Completed", start + 3 * d, revenue=25)
    offer = await message(store, "c4", OFFER, start + 3 * d)
    await event(store, "c4", "Email Link Clicked", start + 3 * d + h, email_id=offer)
    await event(store, "c4", "Order Completed", start + 3 * d + 2 * h, revenue=100)
    for contact in ("h1", "h2"):
        await store.experiments.assign(f"holdout:{JOURNEY}", JOURNEY, contact, "holdout", start)
    await event(store, "h1", "Order Completed", start + 2 * d, revenue=30)
