"""End to end: on ``sojourn dev``, an ignored cart escalates email → SMS → audience; STOP ends it.

``sojourn dev`` (``tests/test_e2e_journeys.py``'s ``dev_stack``, journey time sped up) and
``sojourn sandbox-servers`` run as a user runs them, in subprocesses on free ports, ``sojourn
dev`` pointed at the sandbox by the settings the sandbox prints. A contact with a phone and SMS
consent leaves a tent in the cart and ignores everything: the reminder email, then the discount
SMS (which reaches the sandbox's Twilio and ``sojourn outbox --channel sms``, and whose status
callback becomes ``SMS Delivered``), then the
retargeting call (which reaches the sandbox's audience receiver signed, with hashes only). A
STOP replied through the sandbox reaches the gateway signed with ``X-Twilio-Signature``, ends
the journey, and takes the contact out of the audience. Every wait is bounded; nothing is timed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.devstack import ROOT, STOP_WAIT, poll, sojourn
from tests.ports import free_ports
from tests.test_e2e_journeys import api, dev_stack
from worker.sandbox_servers import sandbox_env

# Journey seconds per real second: the hour of quiet passes in a quarter second, a day in six
# seconds, the two weeks of retargeting in 84 (the STOP comes well before).
SCALE = 14400.0
START_WAIT = 60.0
STEP_WAIT = 180.0  # a day of journey time and a relay pass, on a shared 2-core machine
PHONE = "+33612345678"
EMAIL = "lin@example.com"
TENT = {"id": "tent", "name": "Tente", "price": 120.0, "currency": "EUR", "stock": 5}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """``sojourn sandbox-servers --json`` on a free port, what it prints in a file."""
    port, gateway_port = free_ports(2)
    out = tmp_path / "sandbox.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOJOURN_")}
    gateway = f"http://127.0.0.1:{gateway_port}"
    command = ["sandbox-servers", "--json", "--port", str(port), "--gateway", gateway]
    with out.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", *command],
            cwd=ROOT,
            env={**env, "SOJOURN_GATEWAY_PORT": str(gateway_port)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield {"url": f"http://127.0.0.1:{port}", "out": out, "gateway_port": gateway_port}
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_WAIT)


def seen(sandbox: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """What the sandbox printed of ``kind`` so far."""
    rows = []
    for line in sandbox["out"].read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            row = json.loads(line)
            if isinstance(row, dict) and row.get("kind") == kind:
                rows.append(row)
    return rows


def test_an_ignored_cart_escalates_email_sms_audience_and_stop_ends_it(
    tmp_path: Path, sandbox: dict[str, Any]
) -> None:
    poll("the sandbox to be ready", lambda: seen(sandbox, "ready"), START_WAIT)
    settings = {**sandbox_env(sandbox["url"]), "SOJOURN_QUIET_HOURS": "false"}
    with dev_stack(tmp_path, SCALE, gateway_port=sandbox["gateway_port"], **settings) as stack:
        contact = f"e2e-{uuid.uuid4().hex[:8]}"
        api(stack, "/v1/catalog/products", {"products": [TENT]})
        api(stack, "/v1/identify", {"userId": contact, "traits": {"email": EMAIL, "phone": PHONE}})
        grant = {"userId": contact, "channel": "sms", "topic": "marketing", "subscribed": True}
        api(stack, "/v1/consent", grant)
        added = {"product_id": "tent", "price": 120.0, "quantity": 1}
        api(stack, "/v1/track", {"userId": contact, "event": "Product Added", "properties": added})

        def outbox(channel: str) -> list[dict[str, Any]]:
            result = sojourn(stack, "outbox", "--json", "--channel", channel, "--contact", contact)
            assert result.returncode == 0, result.stderr
            return json.loads(result.stdout)

        [email] = poll("the reminder email", lambda: outbox("email"), STEP_WAIT)
        assert email["template"] == "cart/reminder"

        # Not opened within a day: the discount SMS at the sandbox's Twilio, and in the outbox.
        [sms] = poll("the SMS at the sandbox's Twilio", lambda: seen(sandbox, "sms"), STEP_WAIT)
        assert sms["to"] == PHONE and "CART10" in sms["body"] and "STOP" in sms["body"]
        [row] = poll("the SMS in `sojourn outbox --channel sms`", lambda: outbox("sms"), STEP_WAIT)
        assert (row["to"], row["journey"], row["template"]) == (
            PHONE,
            "cart_abandonment",
            "cart/discount",
        )

        # The sandbox's Twilio calls the status callback back, signed: an SMS Delivered event.
        def delivered() -> bool:
            result = sojourn(stack, "contacts", "show", contact, "--json")
            assert result.returncode == 0, result.stderr
            return "SMS Delivered" in result.stdout

        poll("SMS Delivered from the status callback", delivered, STEP_WAIT)

        # No reaction within another day: the retargeting call, signed, hashes only.
        [call] = poll("the audience call", lambda: seen(sandbox, "audience"), STEP_WAIT)
        assert call["audience"] == "retargeting" and call["signature_ok"] is True
        body = call["body"]
        [member] = body["members"]
        assert body["action"] == "add" and set(member) == {"email_sha256", "phone_sha256"}
        assert all(len(value) == 64 for value in member.values())
        assert EMAIL not in json.dumps(body) and PHONE not in json.dumps(body)

        # STOP, forwarded by the sandbox signed as Twilio signs: the journey ends, and the
        # contact leaves the audience.
        reply = httpx.post(
            f"{sandbox['url']}/sandbox/reply", data={"From": PHONE, "Body": "STOP"}, timeout=30
        )
        assert reply.status_code == 200 and reply.json()["gateway_status"] == 200, reply.text

        def ended() -> dict[str, Any] | None:
            result = sojourn(stack, "journeys", "status", contact, "--json")
            assert result.returncode == 0, result.stderr
            rows = [r for r in json.loads(result.stdout) if r["journey"] == "cart_abandonment"]
            return rows[0] if rows and rows[0]["status"] == "COMPLETED" else None

        done = poll("the STOP to end the cart journey", ended, STEP_WAIT)
        assert done["exit_reason"] == "unsubscribed"

        def actions() -> list[str]:
            return [c["body"]["action"] for c in seen(sandbox, "audience")]

        poll("the contact out of the audience", lambda: actions() == ["add", "remove"], STEP_WAIT)
        assert [r["Body"] for r in seen(sandbox, "reply")] == ["STOP"]
