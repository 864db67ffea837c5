"""``sojourn simulate JOURNEY --persona NAME|FILE``: print a journey's path for a persona.

See ``worker/simulation.py`` for how it runs (time-skipping server, real activities, a
throw-away store, the outbox provider: nothing is sent anywhere) and ``worker/personas.py``
for the persona format. ``--html DIR`` writes every email and a timeline page beside them.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from journeys.registry import BY_NAME
from store.records import MessageRecord
from worker.cli_common import fail, run
from worker.logging import configure_logging
from worker.personas import load_persona, persona_files
from worker.settings import Settings
from worker.simulation import Simulation, simulate

_SENT_AS = re.compile(r" as ([0-9a-f]{32})$")


def simulate_command(
    journey: Annotated[str, typer.Argument(help="The journey to play, e.g. welcome.")],
    persona: Annotated[
        str, typer.Option("--persona", "-p", help="A shipped persona's name, or a JSON/YAML file.")
    ] = "",
    html_dir: Annotated[
        Path | None, typer.Option("--html", help="Write the emails and a timeline page here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The path as JSON.")] = False,
    text: Annotated[
        bool, typer.Option("--text", help="Print each email's text under its send.")
    ] = False,
) -> None:
    """Play JOURNEY for a scripted persona on the time-skipping server; print its path."""
    if journey not in BY_NAME:
        fail(f"no journey {journey!r} (journeys: {', '.join(sorted(BY_NAME))})")
    if not persona:
        shipped = ", ".join(p.stem for p in persona_files(journey)) or "none shipped"
        fail(f"pass --persona NAME|FILE (personas of {journey}: {shipped})")
    try:
        who = load_persona(journey, persona)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    # The path goes to stdout; the worker's own logs would drown it: warnings only, stderr.
    configure_logging(Settings(env="test", log_level="warning"))
    try:
        result = run(simulate(journey, who))
    except ValueError as exc:  # a persona's catalog the store refuses
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(as_dict(result), indent=2, ensure_ascii=False))
    else:
        for line in render_lines(result, text=text):
            typer.echo(line)
    if html_dir is not None:
        index = write_html(result, html_dir)
        typer.echo(f"Timeline and emails written to {index}")


def subjects(sim: Simulation) -> dict[str, str]:
    """Message id → subject."""
    return {m.message_id: m.subject or "" for m in sim.messages}


def body_lines(message: MessageRecord) -> list[str]:
    """The email's text part without blank lines and without the footer (after ``--``)."""
    body = (message.text or "").split("\n--\n", 1)[0]
    return [line.rstrip() for line in body.splitlines() if line.strip()]


def render_lines(sim: Simulation, *, text: bool = False) -> list[str]:
    """The path as text: one line per step, subjects beside sends (with ``text``, each
    email's text under it), then the exit."""
    titles = subjects(sim)
    by_id = {m.message_id: m for m in sim.messages}
    out = [f"{sim.journey} for persona {sim.persona}"]
    for line in sim.lines:
        what = line.what
        found = _SENT_AS.search(what)
        if found and titles.get(found.group(1)):
            what = f"{what[: found.start()]} — “{titles[found.group(1)]}”"
        out.append(f"  {sim.offset(line.at):<10} {line.who:<32} {what}")
        if text and found and found.group(1) in by_id:
            out.extend(f"{'':<14}| {body}" for body in body_lines(by_id[found.group(1)]))
    others = [m for m in sim.messages if m.journey != sim.journey]
    for m in others:
        # Another journey's mail (a digest, a hand-over): its own story is not followed.
        carrier = f"{m.journey} ({m.status})"
        out.append(f"  {'':<10} {carrier:<32} {m.template} — “{m.subject}”")
    out.append(f"Exit: {sim.exit_reason}; {sent_summary(sim)}")
    return out


def sent_summary(sim: Simulation) -> str:
    """``2 emails, 1 sms``: what went out, by channel (emails always named)."""
    counts = Counter(m.channel for m in sim.messages if m.status == "sent")
    parts = [f"{counts.pop('email', 0)} emails"]
    parts += [f"{n} {channel}" for channel, n in sorted(counts.items())]
    return ", ".join(parts)


def as_dict(sim: Simulation) -> dict[str, object]:
    """The path as plain data (for ``--json``)."""
    return {
        "journey": sim.journey,
        "persona": sim.persona,
        "exit_reason": sim.exit_reason,
        "steps": [
            {
                "at": line.at.isoformat(),
                "offset": sim.offset(line.at),
                "who": line.who,
                "what": line.what,
            }
            for line in sim.lines
        ],
        "messages": [
            {
                "journey": m.journey,
                "template": m.template,
                "status": m.status,
                "subject": m.subject,
                "at": m.created_at.isoformat(),
            }
            for m in sim.messages
        ],
    }


def write_html(sim: Simulation, folder: Path) -> Path:
    """Every email as ``NN-template.html`` and ``index.html``, the timeline linking them."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for n, message in enumerate(sim.messages, start=1):
        name = f"{n:02d}-{message.template.replace('/', '-')}.html"
        (folder / name).write_text(message.html or "", encoding="utf-8")
        files[message.message_id] = name
    rows = []
    for line in sim.lines:
        found = _SENT_AS.search(line.what)
        cell = html.escape(line.what)
        if found and found.group(1) in files:
            cell += f' — <a href="{files[found.group(1)]}">open the email</a>'
        rows.append(
            f"<tr><td>{sim.offset(line.at)}</td><td>{html.escape(line.who)}</td><td>{cell}</td></tr>"
        )
    for m in sim.messages:
        if m.journey != sim.journey and m.message_id in files:
            rows.append(
                f"<tr><td></td><td>{html.escape(m.journey)}</td><td>{html.escape(m.template)} — "
                f'<a href="{files[m.message_id]}">{html.escape(m.subject or "")}</a></td></tr>'
            )
    page = (
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(sim.journey)} · "
        f"{html.escape(sim.persona)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "td{padding:4px 12px;border-bottom:1px solid #eee;vertical-align:top}</style>"
        f"<h1>{html.escape(sim.journey)} for {html.escape(sim.persona)}</h1><table>"
        + "".join(rows)
        + f"</table><p>Exit: {html.escape(sim.exit_reason)}</p>"
    )
    index = folder / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
