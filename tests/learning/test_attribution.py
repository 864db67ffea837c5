"""Attribution windows, last message wins, revenue, ROI and the report on a known store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities.attribution import Windows, attribute
from store import Store
from store.outcomes import EventFact, MessageFact
from tests.learning.seed import EXPERIMENT, HELLO, OFFER, seed
from worker.report.figures import Report, build

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
H = timedelta(hours=1)


def msg(message_id: str, at: datetime, journey: str = "welcome") -> MessageFact:
    return MessageFact(
        message_id=message_id,
        contact_id="c",
        journey=journey,
        step=f"step-{message_id}",
        template="t",
        status="sent",
        at=at,
    )


def ev(name: str, at: datetime, email_id: str | None = None, revenue: float | None = None):  # type: ignore[no-untyped-def]
    return EventFact(contact_id="c", name=name, at=at, email_id=email_id, revenue=revenue)


def test_a_click_counts_for_five_days_an_open_for_one() -> None:
    messages = [msg("a", T0)]
    clicked = [ev("Email Link Clicked", T0 + H, "a")]
    opened = [ev("Email Opened", T0 + H, "a")]
    at_4_days = [ev("Order Completed", T0 + 4 * 24 * H, revenue=10)]
    at_6_days = [ev("Order Completed", T0 + 6 * 24 * H, revenue=10)]
    at_20_hours = [ev("Order Completed", T0 + 20 * H, revenue=10)]
    assert len(attribute(messages, clicked, at_4_days)) == 1
    assert attribute(messages, clicked, at_6_days) == []
    assert len(attribute(messages, opened, at_20_hours)) == 1
    assert attribute(messages, opened, at_4_days) == []
    # Configurable: a week after a click.
    assert len(attribute(messages, clicked, at_6_days, Windows(click=timedelta(days=7)))) == 1


def test_no_engagement_no_credit_and_an_order_before_the_open_is_not_its_conversion() -> None:
    messages = [msg("a", T0)]
    assert attribute(messages, [], [ev("Order Completed", T0 + H)]) == []
    early = [ev("Order Completed", T0 + H / 2)]
    assert attribute(messages, [ev("Email Opened", T0 + H, "a")], early) == []


def test_the_last_message_of_the_journey_gets_the_credit_with_the_revenue() -> None:
    messages = [msg("first", T0), msg("second", T0 + 24 * H), msg("other", T0, journey="nurture")]
    tracking = [
        ev("Email Link Clicked", T0 + H, "first"),
        ev("Email Opened", T0 + 25 * H, "second"),
        ev("Email Opened", T0 + 25 * H, "other"),
    ]
    [nurture, welcome] = sorted(
        attribute(messages, tracking, [ev("Order Completed", T0 + 30 * H, revenue=42.5)]),
        key=lambda c: c.journey,
    )
    assert (nurture.journey, nurture.message_id) == ("nurture", "other")
    assert (welcome.message_id, welcome.step, welcome.revenue) == ("second", "step-second", 42.5)


@pytest.fixture
async def report(store: Store) -> Report:
    await seed(store, T0)
    return await build(store, since=T0 - 24 * H, until=T0 + 30 * 24 * H, costs={"email": 0.5})


async def test_report_rows_by_step_and_arm(report: Report) -> None:
    [welcome] = report.journeys
    rows = {(r.step, r.arm): r for r in welcome.steps}
    plain, question, offer = rows[(HELLO, "plain")], rows[(HELLO, "question")], rows[(OFFER, "")]
    assert (plain.sent, plain.opened, plain.clicked, plain.converted) == (3, 3, 1, 2)
    assert plain.revenue == pytest.approx(100.0)
    assert plain.open_rate == pytest.approx(1.0) and plain.conversion_rate == pytest.approx(2 / 3)
    assert (question.sent, question.opened, question.bounced, question.unsubscribed) == (3, 1, 1, 1)
    assert (question.delivered, question.converted, question.revenue) == (3, 0, 0.0)
    assert (offer.sent, offer.clicked, offer.converted, offer.revenue) == (1, 1, 1, 100.0)


async def test_report_totals_revenue_roi_funnel_and_entries(report: Report) -> None:
    [welcome] = report.journeys
    assert welcome.entered == 8  # six treated, two held out
    total = welcome.total
    assert (total.sent, total.converted, total.revenue) == (7, 3, 200.0)
    assert total.cost == pytest.approx(3.5)
    assert total.roi == pytest.approx((200 - 3.5) / 3.5)
    assert welcome.funnel == [("entered", 8), (HELLO, 6), (OFFER, 1), ("goal", 3)]
    assert sum(d.sent for d in welcome.days) == 7
    assert sum(d.converted for d in welcome.days) == 3


async def test_report_holdout_lift_and_experiment_arms(report: Report) -> None:
    [welcome] = report.journeys
    lift = welcome.holdout
    assert lift is not None
    assert (lift.treated, lift.holdout) == (6, 2)
    assert lift.treated_rate == pytest.approx(4 / 6) and lift.holdout_rate == pytest.approx(0.5)
    assert lift.lift == pytest.approx((4 / 6 - 0.5) / 0.5)
    assert lift.low < lift.treated_rate - lift.holdout_rate < lift.high
    assert (lift.treated_revenue, lift.holdout_revenue) == (225.0, 30.0)
    [experiment] = report.experiments
    assert experiment.name == EXPERIMENT and experiment.status == "running"
    arms = {a.name: a for a in experiment.arms}
    assert (arms["plain"].n, arms["plain"].mean) == (3, pytest.approx(1.0))
    # Three opens out of three is not a certainty: the interval is not of zero width.
    assert arms["plain"].low < 1.0 and arms["plain"].high == 1.0
    assert arms["question"].mean == pytest.approx(1 / 3)
    assert arms["question"].low < 1 / 3 < arms["question"].high


async def test_report_json_round_trips(report: Report) -> None:
    again = Report.model_validate_json(report.model_dump_json())
    assert again == report
