"""Rendering SMS and push templates, which live beside the email ones.

``en/cart/reminder.sms.j2`` is the SMS text; ``en/cart/reminder.push.j2`` is the push body,
with ``{% set title = "..." %}`` (required) and ``{% set url = "..." %}`` (where a click
goes; the site by default) at its top. Both are plain text (no HTML escaping), rendered in
the contact's locale like the email (``fr-CA``, ``fr``, then the default), strict about
undefined variables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.sandbox import SecurityError

from activities.rendering import Renderer, TemplateError, failure, locale_candidates, scrub

CHANNEL_PARTS = {"sms": "sms", "push": "push"}
_UNDEFINED = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


@dataclass(frozen=True)
class RenderedText:
    """A rendered SMS or push: body, title (push), click URL (push), locale."""

    body: str
    title: str = ""
    url: str = ""
    locale: str = "en"


def has_variant(renderer: Renderer, template: str, channel: str, locale: str) -> bool:
    """Does ``locale`` have ``<template>.<channel>.j2``?"""
    return (renderer.root / locale / f"{template}.{CHANNEL_PARTS[channel]}.j2").is_file()


def channel_templates(renderer: Renderer, channel: str) -> list[str]:
    """Names of the templates (``cart/reminder``) that have a ``channel`` variant anywhere."""
    names: set[str] = set()
    suffix = f".{CHANNEL_PARTS[channel]}.j2"
    for locale in renderer.locales:
        base = renderer.root / locale
        for path in base.rglob(f"*{suffix}"):
            names.add(path.relative_to(base).as_posix().removesuffix(suffix))
    return sorted(names)


def render_text(
    renderer: Renderer, template: str, channel: str, context: dict[str, Any], locale: str | None
) -> RenderedText:
    """Render the ``channel`` variant of ``template`` for ``locale``.

    Raises:
        TemplateError: no variant in any candidate locale, a missing ``title`` (push), or an
            undefined variable (named).
    """
    part = CHANNEL_PARTS[channel]
    candidates = locale_candidates(locale or context.get("locale"), renderer.default_locale)
    chosen = next((c for c in candidates if has_variant(renderer, template, channel, c)), None)
    if chosen is None:
        looked = ", ".join(f"{c}/{template}.{part}.j2" for c in candidates)
        raise TemplateError(template, f"no {channel} variant (looked for {looked})")
    where = f"{chosen} {part}"
    try:
        module = (
            renderer.env(chosen)
            .get_template(f"{template}.{part}.j2")
            .make_module({**context, "locale": chosen})
        )
        body = scrub(str(module))
        title = scrub(str(getattr(module, "title", "") or ""))
        url = scrub(str(getattr(module, "url", "") or ""))
    except jinja2.UndefinedError as exc:
        match = _UNDEFINED.search(str(exc))
        variable = (match.group(1) or match.group(2)) if match else None
        raise TemplateError(template, str(exc), variable=variable, where=where) from exc
    except SecurityError as exc:
        raise TemplateError(template, f"not allowed in a template: {exc}", where=where) from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(template, str(exc), where=where) from exc
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        # Bad data for a filter or an expression: as for email, it would fail again on retry.
        raise TemplateError(template, failure(exc, renderer.root), where=where) from exc
    # Blank lines and indentation are template layout, not message text.
    text = "\n".join(line.strip() for line in body.strip().splitlines() if line.strip())
    if channel == "push" and not title.strip():
        raise TemplateError(template, "a push needs {% set title = ... %}", where=where)
    if not text:
        raise TemplateError(template, "the message is empty", where=where)
    return RenderedText(body=text, title=" ".join(title.split()), url=url.strip(), locale=chosen)
