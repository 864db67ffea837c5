"""Report figures per channel and with each experiment's declared criteria (a seeded store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store import Store
from tests.learning.seed import EXPERIMENT, JOURNEY, event, message, seed
from worker.report.figures import build
from worker.report.page import render
from workflows.experiments import Arm, Experiment


@pytest.fixture
async def start(store: Store) -> datetime:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    await seed(store, start)
    # h2 is held out; c5 and c6 get an SMS: c5 clicks it and orders 50 a day later.
    for contact in ("c5", "c6"):
        sent = await message(store, contact, "02-welcome/nudge", start + timedelta(days=1), "sms")
        if contact == "c5":
            at = start + timedelta(days=1, hours=1)
            await event(store, contact, "Email Link Clicked", at, email_id=sent)
            await event(store, contact, "Order Completed", at + timedelta(days=1), revenue=50)
    return start


async def test_counts_revenue_cost_and_roi_per_channel(store: Store, start: datetime) -> None:
    costs = {"email": 0.25, "sms": 0.5}
    report = await build(
        store, since=start - timedelta(days=1), until=datetime.now(UTC), costs=costs
    )
    [welcome] = report.journeys
    by = {r.channel: r for r in welcome.channels}
    assert set(by) == {"email", "sms"}
    email, text = by["email"], by["sms"]
    assert (email.sent, email.opened, email.clicked, email.bounced) == (7, 5, 2, 1)
    assert (email.converted, email.revenue) == (3, 200.0)
    assert (text.sent, text.clicked, text.converted, text.revenue) == (2, 1, 1, 50.0)
    assert email.cost == pytest.approx(1.75) and text.cost == pytest.approx(1.0)
    assert text.roi == pytest.approx((50 - 1.0) / 1.0)
    # The channels add up to the journey's total, and the report's channels to the journeys'.
    assert sum(r.sent for r in welcome.channels) == welcome.total.sent == 9
    assert sum(r.revenue for r in welcome.channels) == welcome.total.revenue == 250.0
    assert [(r.channel, r.sent) for r in report.channels] == [("email", 7), ("sms", 2)]
    page = render(report)
    assert "By channel" in page and "<td>sms</td>" in page


async def test_the_report_uses_the_experiments_declared_criteria(
    store: Store, start: datetime
) -> None:
    since, until = start - timedelta(days=1), datetime.now(UTC)
    # Undeclared: the defaults (500 an arm, horizon 20,000) keep three-a-side running.
    [default] = (await build(store, since=since, until=until)).experiments
    assert (default.status, default.min_sample, default.horizon) == ("running", 500, 20_000)
    # Declared with a horizon of 6 recipients: reached, so no difference.
    small = Experiment(EXPERIMENT, arms=(Arm("plain"), Arm("question")), min_sample=3, horizon=6)
    report = await build(store, since=since, until=until, declared={EXPERIMENT: small})
    [experiment] = report.experiments
    assert (experiment.status, experiment.min_sample, experiment.horizon) == (
        "no_difference",
        3,
        6,
    )
    decision = await store.experiments.decision(EXPERIMENT)
    assert decision is not None and decision.decision["criteria"]["horizon"] == 6
    assert "no difference by 6;" in render(report)


async def test_recorded_criteria_serve_an_experiment_no_journey_declares(
    store: Store, start: datetime
) -> None:
    from activities.experiments import evaluate_experiment

    # The runtime evaluated it with a minimum of 2,000 (it was declared on a step only).
    await evaluate_experiment(store, EXPERIMENT, JOURNEY, "open", min_sample=2000)
    report = await build(store, since=start - timedelta(days=1), until=datetime.now(UTC))
    assert report.experiments[0].min_sample == 2000
