"""``sojourn templates``: preview a message for a contact, check every template (CI runs it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from activities.channels.sms_segments import sms_length
from activities.channels.template_check import CHANNELS, sample_text
from activities.rendering import Renderer, TemplateError, locale_candidates
from activities.template_check import check_templates, load_samples, sample_render
from store.records import ContactRecord
from worker.cli_common import fail, load_settings, open_store, run
from worker.settings import Settings

PREVIEW_DIR = Path("var/preview")

templates_app = typer.Typer(help="Message templates: preview one, check them all.")


async def _contact(settings: Settings, contact_id: str) -> ContactRecord | None:
    store = await open_store(settings)
    try:
        return await store.contacts.get(contact_id)
    finally:
        await store.close()


@templates_app.command("preview")
def preview(
    name: str = typer.Argument(..., help="Template name, e.g. welcome/hello."),
    contact: str = typer.Option(..., "--contact", help="Contact id to render for."),
    locale: str | None = typer.Option(None, "--locale", help="Force a locale (fr, en)."),
    data: str | None = typer.Option(None, "--data", help="Journey data as JSON."),
    out: Annotated[Path, typer.Option("--out", help="Folder for the files.")] = PREVIEW_DIR,
    channel: str = typer.Option("email", "--channel", help="email, sms or push."),
) -> None:
    """Render NAME for a contact; write the HTML and text, print the subject.

    With ``--channel sms`` or ``push``: print the text (and, for SMS, its length in segments).
    """
    settings = load_settings()
    renderer = Renderer(default_locale=settings.default_locale)
    # Every option is checked before the store is opened or a file written.
    if channel not in ("email", *CHANNELS):
        fail(f"--channel {channel!r}: use email, {', '.join(CHANNELS)}")
    if locale is not None and not set(locale_candidates(locale, "")) & set(renderer.locales):
        # An unknown locale fell back to the default one without a word.
        fail(f"--locale {locale!r}: the templates exist in {', '.join(renderer.locales)}")
    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file: name a folder for the HTML and text files")
    payload = _payload(data) if data else load_samples(renderer.root).get(name, {})
    record = run(_contact(settings, contact))
    if record is None:
        typer.echo(f"no contact {contact!r} in {settings.database_url}", err=True)
        raise typer.Exit(1)
    if channel != "email":
        preview_text(renderer, name, channel, record, payload, locale)
        return
    try:
        rendered = sample_render(renderer, name, record, payload, locale)
    except TemplateError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    stem = f"{name.replace('/', '-')}.{rendered.locale}"
    html_path, text_path = out / f"{stem}.html", out / f"{stem}.txt"
    try:
        out.mkdir(parents=True, exist_ok=True)
        html_path.write_text(rendered.html, encoding="utf-8")
        text_path.write_text(rendered.text, encoding="utf-8")
    except OSError as exc:
        fail(
            f"--out {out}: cannot write the preview ({exc.strerror or exc}): choose another folder"
        )
    typer.echo(f"Subject: {rendered.subject}")
    typer.echo(f"Preheader: {rendered.preheader}")
    typer.echo(f"HTML: {html_path}")
    typer.echo(f"Text: {text_path}")


def _payload(data: str) -> dict[str, Any]:
    """``--data``: a JSON object, the journey data the template sees."""
    try:
        payload = json.loads(data)
    except ValueError as exc:
        fail(f'--data is not JSON ({exc}): give an object, e.g. --data \'{{"coupon": "X"}}\'')
    if not isinstance(payload, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
        got = kind.get(type(payload), "a number")
        fail(f'--data must be a JSON object, got {got}: e.g. --data \'{{"coupon": "X"}}\'')
    return payload


def preview_text(
    renderer: Renderer,
    name: str,
    channel: str,
    record: ContactRecord,
    payload: dict[str, Any],
    locale: str | None,
) -> None:
    """Print an SMS or push variant; an SMS with its segments (GSM-7 or UCS-2)."""
    try:
        rendered = sample_text(renderer, name, channel, record, payload, locale)
    except (TemplateError, KeyError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    if rendered.title:
        typer.echo(f"Title: {rendered.title}")
    if rendered.url:
        typer.echo(f"URL: {rendered.url}")
    typer.echo(f"Locale: {rendered.locale}")
    typer.echo(rendered.body)
    if channel == "sms":
        typer.echo(f"Length: {sms_length(rendered.body)}")


@templates_app.command("check")
def check(
    as_json: bool = typer.Option(False, "--json", help="Print the problems as JSON."),
) -> None:
    """Render every template in every required locale; exit 1 on any error."""
    renderer = Renderer()
    problems = check_templates(renderer)
    if as_json:
        typer.echo(json.dumps({"templates": renderer.templates(), "problems": problems}))
    else:
        for problem in problems:
            typer.echo(f"FAIL {problem}", err=True)
        typer.echo(f"{len(renderer.templates())} templates, {len(problems)} problems")
    if problems:
        raise typer.Exit(1)
