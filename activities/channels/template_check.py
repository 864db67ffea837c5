"""``sojourn templates check`` for SMS and push variants: every locale, sample data and none."""

from __future__ import annotations

from typing import Any

from activities.channels.render import RenderedText, channel_templates, has_variant, render_text
from activities.rendering import REQUIRED_LOCALES, Renderer, TemplateError
from activities.samples import sample_context
from store.records import ContactRecord

CHANNELS = ("sms", "push")


def sample_text(
    renderer: Renderer,
    template: str,
    channel: str,
    contact: ContactRecord,
    data: dict[str, Any],
    locale: str | None = None,
) -> RenderedText:
    """Render the ``channel`` variant of ``template`` for ``contact`` as a send would."""
    context = sample_context(template, contact, data)
    return render_text(renderer, template, channel, context, locale or contact.locale)


def check_channel_templates(
    renderer: Renderer, samples: dict[str, Any], contact_for: Any
) -> list[str]:
    """Problems of the ``.sms.j2`` / ``.push.j2`` variants (``contact_for(locale)`` → contact)."""
    problems: list[str] = []
    for channel in CHANNELS:
        for template in channel_templates(renderer, channel):
            for locale in REQUIRED_LOCALES:
                if not has_variant(renderer, template, channel, locale):
                    problems.append(f"{template}: no '{locale}' {channel} variant")
                    continue
                variants: list[dict[str, Any]] = [samples.get(template, {}), {}]
                for data in variants:
                    try:
                        sample_text(renderer, template, channel, contact_for(locale), data, locale)
                    except TemplateError as exc:
                        problems.append(f"{channel}: {exc}")
                        break
    return problems
