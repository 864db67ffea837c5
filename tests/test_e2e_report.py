"""End to end: contacts driven through welcome on ``sojourn dev`` show up in ``sojourn report``.

The issue's "done when": with experiments on (the default), a handful of sign-ups go through
the welcome journey (its subject-line experiment and 5 % holdout), two click their email and
one of them buys; ``sojourn report --json`` counts them (funnel, arms with intervals, lift)
and ``--html`` writes the page. Every wait is bounded and generous; nothing is timed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.devstack import poll, sojourn
from tests.test_e2e import MAIL_WAIT
from tests.test_e2e_journeys import dev_stack
from worker.settings import DEV_WRITE_KEY

CONTACTS = 6


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    # Real time, experiments on (the default): welcome's holdout and subject-line arms.
    with dev_stack(tmp_path, 1.0, SOJOURN_EXPERIMENTS="true") as info:
        yield info


def test_welcome_traffic_shows_up_in_the_report_and_its_page(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:6]
    contacts = [f"r{run}-{i}" for i in range(CONTACTS)]
    with httpx.Client(base_url=stack["gateway"], timeout=30, auth=(DEV_WRITE_KEY, "")) as http:
        for i, contact in enumerate(contacts):
            traits = {"email": f"p{i}@example.com", "firstName": f"P{i}"}
            assert http.post("/v1/identify", json={"userId": contact, "traits": traits}).is_success
            assert http.post("/v1/track", json={"userId": contact, "event": "Signed Up"}).is_success

    def outcome(contact: str) -> dict[str, Any] | None:
        """The contact's welcome email, or their journey row if they were held out."""
        mails = json.loads(sojourn(stack, "outbox", "--json", "--contact", contact).stdout)
        if mails:
            return {"mail": mails[0]}
        rows = json.loads(sojourn(stack, "journeys", "status", contact, "--json").stdout)
        held = [r for r in rows if r.get("exit_reason") == "held_out"]
        return {"held_out": True} if held else None

    seen = {
        c: poll(f"{c}'s welcome email (or holdout)", lambda c=c: outcome(c), MAIL_WAIT)
        for c in contacts
    }
    treated = [c for c in contacts if "mail" in seen[c]]
    assert treated, "every contact was held out: nothing to report"

    # Two treated contacts click the link in their email; the first of them buys.
    clickers = treated[:2]
    for contact in clickers:
        eml = Path(seen[contact]["mail"]["eml"]).read_bytes()
        html = message_from_bytes(eml, policy=policy.default).get_body(("html",)).get_content()
        link = re.search(r'href="(http://127\.0\.0\.1:\d+/t/c/[^"]+)"', html)
        assert link is not None, "no tracked link in the welcome email"
        assert httpx.get(link.group(1), timeout=30).status_code < 500
    with httpx.Client(base_url=stack["gateway"], timeout=30, auth=(DEV_WRITE_KEY, "")) as http:
        order = {"userId": clickers[0], "event": "Order Completed", "properties": {"revenue": 42}}
        assert http.post("/v1/track", json=order).is_success

    def report() -> dict[str, Any] | None:
        result = sojourn(stack, "report", "--json", "--journey", "welcome")
        assert result.returncode == 0, result.stderr
        figures = json.loads(result.stdout)
        welcome = next((j for j in figures["journeys"] if j["journey"] == "welcome"), None)
        done = welcome and welcome["total"]["clicked"] >= len(clickers)
        return figures if done and welcome["total"]["converted"] >= 1 else None

    figures = poll("the clicks and the order in the report", report, MAIL_WAIT, interval=2)
    [welcome] = [j for j in figures["journeys"] if j["journey"] == "welcome"]
    assert welcome["entered"] == CONTACTS and welcome["funnel"][0] == ["entered", CONTACTS]
    assert welcome["total"]["sent"] == len(treated)
    assert (welcome["total"]["converted"], welcome["total"]["revenue"]) == (1, 42.0)
    assert [(c["channel"], c["sent"]) for c in welcome["channels"]] == [("email", len(treated))]
    lift = welcome["holdout"]
    assert (lift["treated"], lift["holdout"]) == (len(treated), CONTACTS - len(treated))
    [experiment] = [e for e in figures["experiments"] if e["name"] == "welcome-subject"]
    assert sum(a["n"] for a in experiment["arms"]) == len(treated)
    assert all(a["low"] <= a["mean"] <= a["high"] for a in experiment["arms"])
    assert experiment["status"] == "running" and experiment["min_sample"] == 500

    page = tmp_path / "report.html"
    result = sojourn(stack, "report", "--html", str(page))
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert 'aria-label="welcome funnel"' in html and 'aria-label="welcome-subject arms"' in html
    assert "Holdout lift" in html and "Rates over time" in html and "By channel" in html
