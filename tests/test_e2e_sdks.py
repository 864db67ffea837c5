"""End to end: Segment's official SDKs, set up with ``host`` and the dev write key only, against
``sojourn dev`` as ``make dev`` runs it (Temporal CLI dev server, worker child, gateway, relay).

``segment-analytics-python`` (gzip, one batch) and ``@segment/analytics-node`` (through
``tests/gateway/node/drive.js``) each make every call type for a user of their own, with an
anonymous visitor who signs up and an anonymous id aliased later. Every call is in the stack's
own database under the user, no anonymous profile is left, and each sign-up is a welcome email
in ``sojourn outbox``. The in-process tests beside the SDKs (tests/gateway/test_segment_*.py)
check the same calls field by field; this one checks that nothing is lost on the real stack.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from segment.analytics.client import Client

from store.identities import anonymous_contact
from tests.devstack import healthy, launched, poll, sojourn, worker_children
from tests.gateway import test_segment_node_sdk as node_sdk
from tests.gateway import test_segment_sdk as python_sdk
from worker.settings import DEV_WRITE_KEY

START_WAIT = 120.0  # the dev server, worker and gateway on a shared 2-core machine
STORE_WAIT = 60.0
MAIL_WAIT = 90.0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with launched(tmp_path) as started:
        poll("the gateway's /healthz", lambda: healthy(started), START_WAIT)
        started["child_pids"] += poll("the worker child", lambda: worker_children(started), 60)
        yield started


def stored(stack: dict[str, Any], message_ids: list[str]) -> dict[str, tuple[str, str]]:
    """``message_id → (contact_id, name)`` of the events the stack's database holds."""
    database = stack["var"] / "sojourn.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as conn:
        marks = ",".join("?" * len(message_ids))
        rows = conn.execute(
            f"SELECT message_id, contact_id, name FROM events WHERE message_id IN ({marks})",
            message_ids,
        ).fetchall()
    return {message_id: (contact, name) for message_id, contact, name in rows}


def contact_ids(stack: dict[str, Any], ids: list[str]) -> set[str]:
    database = stack["var"] / "sojourn.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as conn:
        marks = ",".join("?" * len(ids))
        rows = conn.execute(f"SELECT id FROM contacts WHERE id IN ({marks})", ids).fetchall()
    return {row[0] for row in rows}


def welcome_to(stack: dict[str, Any], user: str) -> dict[str, Any] | None:
    result = sojourn(stack, "outbox", "--json", "--contact", user)
    assert result.returncode == 0, result.stderr
    return next((row for row in json.loads(result.stdout) if row["journey"] == "welcome"), None)


def test_both_official_sdks_deliver_every_call_through_sojourn_dev(
    stack: dict[str, Any],
) -> None:
    node_sdk._node()  # skips, saying what is missing, without Node or the SDK
    py_user, node_user = (f"{sdk}-{uuid.uuid4().hex[:8]}" for sdk in ("py", "node"))
    names = node_sdk.NAMES

    errors: list[Exception] = []
    client = Client(
        DEV_WRITE_KEY,
        host=stack["gateway"],
        gzip=True,
        on_error=lambda error, _batch: errors.append(error),
        upload_interval=0.5,
    )
    try:
        python_sdk.drive(client, py_user, {name: f"{py_user}-{name}" for name in names})
    finally:
        client.shutdown()
    assert errors == []
    seen = asyncio.run(node_sdk.drive(stack["gateway"], DEV_WRITE_KEY, node_user, "gzip"))
    assert seen["errors"] == [] and set(seen["statuses"]) == {200}, seen

    def every(message_ids: list[str]) -> dict[str, tuple[str, str]] | None:
        found = stored(stack, message_ids)
        return found if len(found) == len(message_ids) else None

    for user in (py_user, node_user):
        expected = [f"{user}-{name}" for name in names]
        events = poll(f"{user}'s calls in the store", lambda e=expected: every(e), STORE_WAIT)
        # The anonymous visitor's history joined the user; no anonymous profile is left.
        assert {contact for contact, _ in events.values()} == {user}, events
        assert events[f"{user}-page"][1] == "Page Viewed"
        assert events[f"{user}-screen"][1] == "Screen Viewed"
        anonymous = [anonymous_contact(f"{prefix}-{user}") for prefix in ("anon", "anon2")]
        assert contact_ids(stack, [user, *anonymous]) == {user}
        mail = poll(f"the welcome email to {user}", lambda u=user: welcome_to(stack, u), MAIL_WAIT)
        assert mail["to"] == f"{user}@example.com"
