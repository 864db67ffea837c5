"""The report as one self-contained HTML page: inline SVG charts, inline CSS, no script, no CDN.

Drawn by hand rather than with a charting library: four small chart kinds (bars, lines, an
interval plot, a lift plot) are a few dozen lines of SVG each, and the page then works
offline, in any mail client's preview and in a screenshot, with nothing to install.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from worker.report.figures import ExperimentFigures, JourneyFigures, Lift, Report, Row

WIDTH = 640
COLOURS = ("#3b6ea5", "#e07b39", "#5a9e5a", "#b04a5a", "#7a5aa6", "#8c8c8c")
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:980px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin-bottom:4px}table{border-collapse:collapse;margin:8px 0}
td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child,td:nth-child(2),th:nth-child(2){text-align:left}
.note{color:#666;font-size:12px}.decided{color:#2a7a2a;font-weight:600}
svg text{font:11px system-ui,sans-serif;fill:#333}
"""


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _money(value: float) -> str:
    return f"{value:,.2f}"


def bars(items: Sequence[tuple[str, float]], *, title: str) -> str:
    """Horizontal bars, one per item, longest = full width (the funnel)."""
    top = max((v for _, v in items), default=0) or 1
    row, label_w = 26, 170
    height = row * len(items) + 10
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{WIDTH}" height="{height}">']
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        w = (WIDTH - label_w - 60) * value / top
        parts.append(f'<text x="0" y="{y + 15}">{escape(label)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{COLOURS[0]}"><title>{escape(label)}: {value:g}</title></rect>'
        )
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{value:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def lines(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *, title: str
) -> str:
    """Rates over time: one polyline per series on a 0-100 % axis."""
    height, left, bottom = 200, 40, 24
    plot_w, plot_h = WIDTH - left - 10, height - bottom - 10
    top = max((v for _, vs in series for v in vs if v is not None), default=0) or 1

    def x(i: int) -> float:
        return left + (plot_w * i / max(len(labels) - 1, 1))

    def y(v: float) -> float:
        return 10 + plot_h * (1 - v / top)

    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{WIDTH}" height="{height}">']
    for frac in (0, 0.5, 1):
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - 10}" y1="{y(top * frac):.1f}" '
            f'y2="{y(top * frac):.1f}" stroke="#eee"/>'
            f'<text x="0" y="{y(top * frac) + 4:.1f}">{top * frac:.0%}</text>'
        )
    for k, (name, values) in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if v is not None)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        for i, v in enumerate(values):
            if v is not None:
                parts.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                    f"<title>{escape(name)} {escape(labels[i])}: {v:.1%}</title></circle>"
                )
        parts.append(
            f'<rect x="{left + 110 * k}" y="{height - 12}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + 110 * k + 14}" y="{height - 3}">{escape(name)}</text>'
        )
    if labels:
        parts.append(f'<text x="{left}" y="{height - 14}">{escape(labels[0])}</text>')
        parts.append(
            f'<text x="{WIDTH - 10}" y="{height - 14}" text-anchor="end">'
            f"{escape(labels[-1])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def intervals(
    items: Sequence[tuple[str, float, float, float]],
    *,
    title: str,
    money: bool,
    bounds: tuple[float, float] | None = None,
) -> str:
    """One row per item: its estimate as a dot, its interval as a bar (arms, lift).

    ``bounds`` clips the bars to what the quantity can be (a rate is within 0-100 %): an
    interval from a handful of contacts is wide, and would squash the others.
    """
    if bounds is not None:
        low_b, high_b = bounds
        items = [(n, m, max(lo, low_b), min(hi, high_b)) for n, m, lo, hi in items]
    row, label_w = 30, 120
    height = row * len(items) + 24
    low = min((lo for _, _, lo, _ in items), default=0.0)
    high = max((hi for _, _, _, hi in items), default=1.0)
    low, high = min(low, 0.0), high if high > low else low + 1

    def x(v: float) -> float:
        return label_w + (WIDTH - label_w - 70) * (v - low) / (high - low)

    fmt = _money if money else (lambda v: f"{v:.1%}")
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{WIDTH}" height="{height}">']
    parts.append(
        f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="0" y2="{height - 20}" stroke="#bbb" '
        'stroke-dasharray="3,3"/>'
    )
    for i, (label, mean, lo, hi) in enumerate(items):
        y = 15 + i * row
        colour = COLOURS[i % len(COLOURS)]
        parts.append(f'<text x="0" y="{y + 4}">{escape(label)}</text>')
        parts.append(
            f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{y}" y2="{y}" stroke="{colour}" '
            f'stroke-width="6" stroke-opacity="0.35"/>'
            f'<circle cx="{x(mean):.1f}" cy="{y}" r="5" fill="{colour}">'
            f"<title>{escape(label)}: {fmt(mean)} ({fmt(lo)} to {fmt(hi)})</title></circle>"
            f'<text x="{x(hi) + 6:.1f}" y="{y + 4}">{fmt(mean)}</text>'
        )
    parts.append(
        f'<text x="{label_w}" y="{height - 4}">{fmt(low)}</text>'
        f'<text x="{x(high):.1f}" y="{height - 4}" text-anchor="end">{fmt(high)}</text></svg>'
    )
    return "".join(parts)


def _table(rows: Sequence[Row], *, by_channel: bool = False) -> str:
    first = "<th>channel</th>" if by_channel else "<th>step</th><th>arm</th>"
    head = (
        f"<tr>{first}<th>sent</th><th>delivered</th><th>opened</th>"
        "<th>clicked</th><th>converted</th><th>revenue</th><th>unsub.</th><th>bounced</th>"
        "<th>open rate</th><th>click rate</th><th>conv. rate</th><th>cost</th><th>ROI</th></tr>"
    )

    def name(r: Row) -> str:
        if by_channel:
            return f"<td>{escape(r.channel)}</td>"
        return f"<td>{escape(r.step or 'total')}</td><td>{escape(r.arm)}</td>"

    body = "".join(
        f"<tr>{name(r)}<td>{r.sent}</td>"
        f"<td>{r.delivered}</td><td>{r.opened}</td><td>{r.clicked}</td><td>{r.converted}</td>"
        f"<td>{_money(r.revenue)}</td><td>{r.unsubscribed}</td><td>{r.bounced}</td>"
        f"<td>{_pct(r.open_rate)}</td><td>{_pct(r.click_rate)}</td>"
        f"<td>{_pct(r.conversion_rate)}</td><td>{_money(r.cost)}</td>"
        f"<td>{'-' if r.roi is None else f'{r.roi:.1f}×'}</td></tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


def _lift(lift: Lift) -> str:
    chart = intervals(
        [
            ("treated", lift.treated_rate, lift.treated_rate, lift.treated_rate),
            ("holdout", lift.holdout_rate, lift.holdout_rate, lift.holdout_rate),
            (
                "difference",
                lift.treated_rate - lift.holdout_rate,
                -1.0 if lift.low is None else lift.low,
                1.0 if lift.high is None else lift.high,
            ),
        ],
        title="holdout lift",
        money=False,
        bounds=(-1.0, 1.0),
    )
    return (
        f"<h3>Holdout lift</h3><p>Goal rate {_pct(lift.treated_rate)} treated ({lift.treated}) "
        f"vs {_pct(lift.holdout_rate)} held out ({lift.holdout}): lift {_pct(lift.lift)}, "
        f"difference {_pct(lift.treated_rate - lift.holdout_rate)} "
        + (
            f"({_pct(max(lift.low, -1.0))} to {_pct(min(lift.high, 1.0))}, 95 % always-valid). "
            if lift.low is not None and lift.high is not None
            else "(no interval until both groups have contacts). "
        )
        + "Revenue "
        f"{_money(lift.treated_revenue)} treated, {_money(lift.holdout_revenue)} held out.</p>"
        f"{chart}"
    )


def _journey(j: JourneyFigures) -> str:
    labels = [d.day.isoformat() for d in j.days]
    rates = lines(
        labels,
        [
            ("open rate", [d.opened / d.sent if d.sent else None for d in j.days]),
            ("click rate", [d.clicked / d.sent if d.sent else None for d in j.days]),
        ],
        title=f"{j.journey} rates over time",
    )
    return (
        f'<section class="journey"><h2>{escape(j.journey)}</h2>'
        f"<p>{j.entered} entered, {j.total.sent} sent, {j.total.converted} converted, "
        f"revenue {_money(j.total.revenue)}"
        + (f", ROI {j.total.roi:.1f}×" if j.total.roi is not None else "")
        + "</p><h3>Funnel</h3>"
        + bars([(label, float(n)) for label, n in j.funnel], title=f"{j.journey} funnel")
        + "<h3>Rates over time</h3>"
        + rates
        + "<h3>By step and arm</h3>"
        + _table([*j.steps, j.total])
        + "<h3>By channel</h3>"
        + _table(j.channels, by_channel=True)
        + (_lift(j.holdout) if j.holdout else "")
        + "</section>"
    )


def _experiment(e: ExperimentFigures) -> str:
    if e.status == "decided":
        verdict = (
            f'<span class="decided">decided: {escape(e.winner or "")} wins</span>, '
            f"{_pct(e.effect)} relative, difference {e.difference or 0:+.2%} "
            f"({e.low or 0:+.2%} to {e.high or 0:+.2%})"
            + (f", on {e.decided_at:%Y-%m-%d %H:%M} UTC" if e.decided_at else "")
        )
    elif e.status == "no_difference":
        verdict = "no difference by the horizon: new contacts get the control"
    else:
        verdict = "running: no winner yet"
    chart = intervals(
        [(a.name, a.mean, a.low, a.high) for a in e.arms],
        title=f"{e.name} arms",
        money=e.metric == "revenue",
        bounds=None if e.metric == "revenue" else (0.0, 1.0),
    )
    return (
        f'<section class="experiment"><h3>{escape(e.name)} '
        f'<span class="note">({escape(e.journey)}, metric {escape(e.metric)})</span></h3>'
        f"<p>{verdict}</p>{chart}"
        f'<p class="note">{", ".join(f"{escape(a.name)}: {a.n} contacts" for a in e.arms)}; '
        f"decided at alpha {e.alpha:g} once each arm has {e.min_sample} contacts, "
        f"no difference by {e.horizon:,}; "
        "bars are 95 % always-valid intervals (valid however often the page is looked at).</p>"
        "</section>"
    )


def render(report: Report) -> str:
    """The whole page."""
    period = f"{report.since:%Y-%m-%d} to {report.until:%Y-%m-%d}"
    experiments = "".join(_experiment(e) for e in report.experiments) or "<p>None.</p>"
    journeys = "".join(_journey(j) for j in report.journeys) or "<p>No messages yet.</p>"
    if len(report.journeys) > 1:
        journeys += "<h2>All journeys by channel</h2>" + _table(report.channels, by_channel=True)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Sojourn report {period}</title><style>{CSS}</style></head><body>"
        f"<h1>Sojourn report</h1><p class='note'>{period}</p>"
        f"{journeys}<h2>Experiments</h2>{experiments}</body></html>"
    )
