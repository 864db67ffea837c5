"""End to end: the shipped journeys on ``sojourn dev``, with journey time sped up.

``sojourn dev`` runs in a subprocess on free ports, as in ``tests/test_e2e.py``, with
``SOJOURN_DEV_TIME_SCALE`` set so weeks of journey time pass in seconds. The catalog is seeded
over ``POST /v1/catalog/products``, the contacts act over the Segment API with the dev write
key, and the assertions read what a user would: ``sojourn outbox --json`` and the ``.eml``
files under ``var/outbox``.

- At a day a second: nurturing sends its five touches; a sign-up who never opens gets the
  welcome, then (handed over at day 30) the four re-engagement emails and is sunset; a camera
  buyer gets the thank-you and then the lens and the bag (not the sold-out strap); a cart whose
  shoes sold out gets the reminder and the discount with the in-stock alternative instead.
- At an hour a second (the 48-hour merge window takes 48 s): a contact whose birthday is today
  and who passes the loyalty tier gets one email holding both (the hourly birthday schedule is
  triggered rather than waited for).

Every wait is bounded; nothing is timed: a slow machine only makes the polls take longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from temporalio.client import Client

from tests.devstack import (
    STOP_WAIT,
    converter,
    dev_log,
    healthy,
    launched,
    poll,
    sojourn,
    temporal_children,
)
from worker.settings import DEV_WRITE_KEY

START_WAIT = 180.0
SEQUENCE_WAIT = 420.0  # weeks of journey time, on a shared 2-core machine
A_DAY_A_SECOND = 86400.0
AN_HOUR_A_SECOND = 3600.0

CATALOG = [
    {"id": "cam-x100", "name": "X100 compact camera", "price": 899, "currency": "EUR",
     "category": "cameras", "url": "https://shop.sojourn.test/p/cam-x100", "stock": 5,
     "related": ["lens-35", "bag-rover", "strap-leather"]},
    {"id": "lens-35", "name": "35 mm f/2 lens", "price": 329, "currency": "EUR",
     "category": "lenses", "url": "https://shop.sojourn.test/p/lens-35", "stock": 7},
    {"id": "bag-rover", "name": "Rover camera bag", "price": 79, "currency": "EUR",
     "category": "bags", "url": "https://shop.sojourn.test/p/bag-rover", "stock": 20},
    {"id": "strap-leather", "name": "Leather strap", "price": 35, "currency": "EUR",
     "category": "accessories", "url": "https://shop.sojourn.test/p/strap-leather", "stock": 0},
    {"id": "shoe-trail-42", "name": "Trail running shoes", "price": 129, "currency": "EUR",
     "category": "shoes", "url": "https://shop.sojourn.test/p/shoe-trail-42", "stock": 0,
     "alternatives": ["shoe-trail-pro-42"]},
    {"id": "shoe-trail-pro-42", "name": "Trail running shoes Pro", "price": 139,
     "currency": "EUR", "category": "shoes",
     "url": "https://shop.sojourn.test/p/shoe-trail-pro-42", "stock": 12},
    {"id": "socks-merino", "name": "Merino running socks", "price": 18, "currency": "EUR",
     "category": "accessories", "url": "https://shop.sojourn.test/p/socks-merino", "stock": 40},
]  # fmt: skip


@contextlib.contextmanager
def dev_stack(
    tmp_path: Path, scale: float, gateway_port: int | None = None, **extra_env: str
) -> Iterator[dict[str, Any]]:
    """``sojourn dev`` at ``scale`` in its own process group; stopped with Ctrl-C at the end.

    ``extra_env`` adds settings (tests/test_e2e_channels.py points SMS and audiences at the
    sandbox servers, whose replies need the gateway's port before it starts).
    """
    settings = {"SOJOURN_DEV_TIME_SCALE": f"{scale:g}", **extra_env}
    with launched(tmp_path, gateway_port, **settings) as stack:
        poll("the gateway's /healthz", lambda: healthy(stack), START_WAIT)
        stack["child_pids"] += temporal_children(stack)
        yield stack
        stack["process"].send_signal(signal.SIGINT)
        assert stack["process"].wait(STOP_WAIT) == 0, dev_log(stack)


def api(stack: dict[str, Any], path: str, body: dict[str, Any]) -> None:
    with httpx.Client(base_url=stack["gateway"], timeout=30, auth=(DEV_WRITE_KEY, "")) as http:
        answer = http.post(path, json=body)
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text}"


def person(stack: dict[str, Any], user: str, **traits: Any) -> str:
    """Identify ``user`` with an address of their own; returns the address."""
    address = f"{user}@example.com"
    api(stack, "/v1/identify", {"userId": user, "traits": {"email": address, **traits}})
    return address


def track(stack: dict[str, Any], user: str, event: str, **properties: Any) -> None:
    api(stack, "/v1/track", {"userId": user, "event": event, "properties": properties})


def outbox(stack: dict[str, Any]) -> list[dict[str, Any]]:
    """Every email ``sojourn outbox`` lists, oldest first."""
    result = sojourn(stack, "outbox", "--json", "--limit", "1000", "--channel", "email")
    assert result.returncode == 0, result.stderr
    rows = [r for r in json.loads(result.stdout) if r["status"] == "sent"]
    return sorted(rows, key=lambda r: r["sent_at"])


def templates(rows: list[dict[str, Any]], address: str, prefix: str = "") -> list[str]:
    return [r["template"] for r in rows if r["to"] == address and r["template"].startswith(prefix)]


def text_of(row: dict[str, Any]) -> str:
    """The plain-text part of an outbox ``.eml``."""
    message = email.message_from_bytes(Path(row["eml"]).read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, row["eml"]
    return str(body.get_content())


def mail(rows: list[dict[str, Any]], address: str, template: str) -> dict[str, Any]:
    return next(r for r in rows if r["to"] == address and r["template"] == template)


def journey_rows(stack: dict[str, Any], user: str) -> dict[str, dict[str, Any]]:
    result = sojourn(stack, "journeys", "status", user, "--json")
    assert result.returncode == 0, result.stderr
    return {row["journey"]: row for row in json.loads(result.stdout)}


NURTURING = ["brand", "education", "case_study", "offer", "testimonial"]
REENGAGEMENT = ["miss_you", "offer", "survey", "last_chance"]


def test_nurturing_reengagement_cross_sell_and_cart_run_their_sequences(tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:6]
    lead, drifter, buyer, shopper = (f"{who}-{run}" for who in ("lead", "drift", "buy", "cart"))
    with dev_stack(tmp_path, A_DAY_A_SECOND) as stack:
        api(stack, "/v1/catalog/products", {"products": CATALOG})
        lead_at = person(stack, lead, firstName="Lea")
        track(stack, lead, "Lead Created")
        drifter_at = person(stack, drifter, firstName="Dan")
        track(stack, drifter, "Signed Up")
        buyer_at = person(stack, buyer, firstName="Maya")
        track(
            stack,
            buyer,
            "Order Completed",
            order_id="C-1",
            total=899,
            currency="EUR",
            products=[{"product_id": "cam-x100", "price": 899, "quantity": 1}],
        )
        shopper_at = person(stack, shopper, firstName="Noor")
        track(
            stack,
            shopper,
            "Checkout Started",
            currency="EUR",
            products=[
                {"product_id": "shoe-trail-42", "name": "Trail running shoes", "price": 129},
                {"product_id": "socks-merino", "name": "Merino running socks", "price": 18},
            ],
        )
        expected = {
            lead_at: ("nurturing/", [f"nurturing/{t}" for t in NURTURING]),
            drifter_at: ("", ["welcome/hello", *(f"reactivation/{t}" for t in REENGAGEMENT)]),
            buyer_at: ("cross_sell/", ["cross_sell/thank_you", "cross_sell/suggestion"]),
            shopper_at: ("cart/", ["cart/reminder", "cart/discount"]),
        }

        def all_sent() -> list[dict[str, Any]] | None:
            rows = outbox(stack)
            done = all(len(templates(rows, a, p)) >= len(want) for a, (p, want) in expected.items())
            return rows if done else None

        rows = poll("every journey's sequence in the outbox", all_sent, SEQUENCE_WAIT, 3.0)
        for address, (prefix, want) in expected.items():
            assert templates(rows, address, prefix) == want, address

        # Cart: the sold-out shoes are offered as their in-stock alternative, in both touches.
        for template in ("cart/reminder", "cart/discount"):
            text = text_of(mail(rows, shopper_at, template))
            assert "- Trail running shoes Pro: €139.00 (in place of Trail running shoes" in text
            assert "- Trail running shoes: " not in text
            assert "p/shoe-trail-42\n" not in text and "p/shoe-trail-pro-42" in text
            assert "- Merino running socks: €18.00" in text

        # Cross-sell: what goes with a camera, in stock, a week later.
        picks = text_of(mail(rows, buyer_at, "cross_sell/suggestion"))
        assert "35 mm f/2 lens" in picks and "Rover camera bag" in picks
        assert "Leather strap" not in picks
        assert "X100 compact camera" in text_of(mail(rows, buyer_at, "cross_sell/thank_you"))

        # Re-engagement: nobody reacted, so the contact is sunset and the journey completes.
        def reengagement_over() -> dict[str, Any] | None:
            row = journey_rows(stack, drifter).get("reactivation")
            return row if row and row["status"] == "COMPLETED" else None

        done = poll("re-engagement to end", reengagement_over, SEQUENCE_WAIT, 3.0)
        assert done["exit_reason"] == "completed"
        assert journey_rows(stack, drifter)["welcome"]["handed_over_to"] == "reactivation"


def due_somewhere(now: datetime, hour: int = 9) -> tuple[str, str]:
    """A timezone where it is ``hour`` o'clock or later today (and not near midnight), and
    the birthday that is due there now."""
    zones = [
        *("Europe/Paris", "Asia/Tokyo", "Pacific/Kiritimati", "America/New_York"),
        *("America/Los_Angeles", "Pacific/Honolulu", "Pacific/Pago_Pago", "Asia/Kolkata"),
    ]
    for name in zones:
        local = now.astimezone(ZoneInfo(name))
        if hour <= local.hour <= 22:
            return name, local.date().replace(year=1990).isoformat()
    raise AssertionError(f"no zone at {hour}:00-22:00 at {now}")  # offsets -11..+14 cover all


async def trigger(stack: dict[str, Any], schedule_id: str) -> None:
    client = await Client.connect(stack["temporal"], data_converter=converter(stack))
    await client.get_schedule_handle(schedule_id).trigger()


def test_birthday_and_loyalty_due_together_send_one_email(tmp_path: Path) -> None:
    user = f"fete-{uuid.uuid4().hex[:6]}"
    zone, birthday = due_somewhere(datetime.now(UTC))
    if birthday.endswith("-02-29"):
        birthday = birthday.replace("1990", "1992")  # a leap year's 29 February
    with dev_stack(tmp_path, AN_HOUR_A_SECOND) as stack:
        address = person(stack, user, firstName="Ada", birthday=birthday, timezone=zone)
        # The fifth order... or 600 € at once: past the gold tier, loyalty enters at once.
        track(stack, user, "Order Completed", order_id="L-1", total=600, currency="EUR")
        # The birthday schedule runs hourly: run it now instead of waiting for it.
        asyncio.run(trigger(stack, "dates-birthday"))

        def merged() -> list[dict[str, Any]] | None:
            rows = outbox(stack)
            return rows if "celebration/digest" in templates(rows, address) else None

        rows = poll("the merged birthday and loyalty email", merged, SEQUENCE_WAIT, 3.0)

        def settled() -> dict[str, dict[str, Any]] | None:
            found = journey_rows(stack, user)
            ends = ("birthday", "loyalty", "digest")
            return (
                found if all(found.get(j, {}).get("status") == "COMPLETED" for j in ends) else None
            )

        found = poll("birthday, loyalty and the digest to end", settled, SEQUENCE_WAIT, 3.0)
        # The order's cross-sell waits its week (168 s here) and says at what pace; on a
        # machine slow enough to see it end first, there is nothing left to ask.
        if found["cross_sell"]["status"] == "RUNNING":
            assert found["cross_sell"]["time_scale"] == AN_HOUR_A_SECOND
        rows = outbox(stack)
        own = [t for t in templates(rows, address) if not t.startswith("cross_sell/")]
        assert own == ["celebration/digest"]
        text = text_of(mail(rows, address, "celebration/digest"))
        assert "BDAY15" in text and "LOYAL20" in text
