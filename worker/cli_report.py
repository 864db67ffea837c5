"""``sojourn report``: per journey, step and arm, what was sent and what it earned.

``--json`` prints the whole report (the same figures the HTML page draws); ``--html FILE``
writes one self-contained page. Costs per message come from ``SOJOURN_MESSAGE_COSTS`` or
``--cost email=0.001``; conversions are the registered journeys' goal events.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from journeys.registry import ALL
from worker.cli_common import (
    CHANNELS,
    echo_table,
    fail,
    load_settings,
    open_store,
    output_file,
    parse_pairs,
    run,
    write_text,
)
from worker.cli_outbox import _missing_sqlite_file
from worker.report.figures import Report, Row, build, parse_since
from worker.report.page import render
from worker.settings import Settings


async def make_report(
    settings: Settings, *, journey: str | None, since: datetime, costs: dict[str, float]
) -> Report:
    """The report for ``settings``' store (empty when nothing ran yet)."""
    until = datetime.now(UTC)
    goals = {j.spec.name: j.spec.goal for j in ALL if j.spec.goal}
    declared = {e.name: e for j in ALL for e in j.spec.experiments}
    if _missing_sqlite_file(settings.database_url):
        return Report(since=since, until=until, journeys=[], experiments=[])
    store = await open_store(settings)
    try:
        return await build(
            store,
            since=since,
            until=until,
            journey=journey,
            costs=costs,
            goals=goals,
            declared=declared,
        )
    finally:
        await store.close()


def _costs(pairs: dict[str, Any]) -> dict[str, float]:
    """``--cost`` values: a channel's cost per message, a finite amount of at least 0."""
    costs = {}
    for channel, amount in pairs.items():
        if channel not in CHANNELS:
            fail(f"--cost {channel}=...: no channel {channel!r} (channels: {', '.join(CHANNELS)})")
        ok = isinstance(amount, int | float) and not isinstance(amount, bool)
        if not ok or not math.isfinite(amount) or amount < 0:
            fail(f"--cost {channel}={amount!r}: give the cost of one message, e.g. {channel}=0.001")
        costs[channel] = float(amount)
    return costs


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


NUMBERS = ["sent", "deliv", "open", "click", "conv", "revenue", "unsub", "bounce"]
RATES = ["open%", "click%", "conv%", "cost", "roi"]


def _figures(r: Row) -> list[object]:
    return [
        r.sent,
        r.delivered,
        r.opened,
        r.clicked,
        r.converted,
        f"{r.revenue:.2f}",
        r.unsubscribed,
        r.bounced,
        _pct(r.open_rate),
        _pct(r.click_rate),
        _pct(r.conversion_rate),
        f"{r.cost:.2f}",
        None if r.roi is None else f"{r.roi:.1f}x",
    ]


def print_table(report: Report) -> None:
    """The report as text tables: one per journey (by step and arm, then by channel), then all
    journeys by channel, then the experiments."""
    for j in report.journeys:
        typer.echo(f"\n{j.journey}: {j.entered} entered")
        echo_table(
            ["step", "arm", *NUMBERS, *RATES],
            [[r.step or "total", r.arm, *_figures(r)] for r in [*j.steps, j.total]],
        )
        if j.channels:
            rows = [[r.channel, *_figures(r)] for r in j.channels]
            echo_table(["channel", *NUMBERS, *RATES], rows)
        if j.holdout:
            h = j.holdout
            typer.echo(
                f"holdout: goal {_pct(h.treated_rate)} treated ({h.treated}) vs "
                f"{_pct(h.holdout_rate)} held out ({h.holdout}), lift {_pct(h.lift)}, "
                f"difference {_pct(h.treated_rate - h.holdout_rate)} "
                + (f"[{_pct(h.low)}, {_pct(h.high)}]" if h.low is not None else "(no interval yet)")
            )
    if len(report.journeys) > 1:
        typer.echo("\nall journeys by channel")
        echo_table(
            ["channel", *NUMBERS, *RATES], [[r.channel, *_figures(r)] for r in report.channels]
        )
    for e in report.experiments:
        verdict = f"{e.status}" + (f": {e.winner} wins by {_pct(e.effect)}" if e.winner else "")
        typer.echo(
            f"\nexperiment {e.name} ({e.journey}, {e.metric}; at least {e.min_sample} an arm, "
            f"horizon {e.horizon}, alpha {e.alpha:g}): {verdict}"
        )
        echo_table(
            ["arm", "contacts", e.metric, "interval"],
            [[a.name, a.n, _pct(a.mean), f"[{_pct(a.low)}, {_pct(a.high)}]"] for a in e.arms],
        )
    if not report.journeys:
        typer.echo("No messages in this period.")


def report(
    journey: Annotated[str | None, typer.Option(help="Only this journey.")] = None,
    since: Annotated[str, typer.Option(help="Period start: 30d, 12h, 2w or an ISO date.")] = "30d",
    json_: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML page to this file.")
    ] = None,
    cost: Annotated[
        list[str] | None, typer.Option(help="Cost per message: CHANNEL=AMOUNT (repeatable).")
    ] = None,
) -> None:
    """Funnel, rates, conversions, revenue and ROI per journey, step and arm; experiments."""
    settings = load_settings()
    if html is not None:
        output_file(html, "--html")
    now = datetime.now(UTC)
    try:
        start = parse_since(since, now)
    except OverflowError:
        fail(f"--since {since!r} reaches before the year 1: give a shorter period or a date")
    except ValueError:
        fail(f"--since {since!r}: use 30d, 12h, 2w or an ISO date")
    if start > now:
        # The period would start after its end: an empty report that looks like no activity.
        fail(f"--since {since!r} is in the future: give a past date or a period such as 30d")
    costs = dict(settings.message_costs)
    costs.update(_costs(parse_pairs(cost or [], "--cost")))
    figures = run(make_report(settings, journey=journey, since=start, costs=costs))
    known = sorted(j.spec.name for j in ALL)
    if journey is not None and journey not in known and not figures.journeys:
        # A typo reported "No messages in this period"; a retired journey's data still shows.
        fail(f"--journey {journey!r}: no such journey (journeys: {', '.join(known)})")
    if html is not None:
        write_text(html, render(figures), "--html")
        typer.echo(f"wrote {html}")
    if json_:
        typer.echo(figures.model_dump_json(indent=2))
    elif html is None:
        print_table(figures)
