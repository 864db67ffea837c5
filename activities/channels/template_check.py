"""``sojourn templates check`` for SMS and push variants: every locale, sample data and none."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from activities.channels.render import RenderedText, channel_templates, has_variant, render_text
from activities.personalise import template_context
from activities.rendering import REQUIRED_LOCALES, Renderer, TemplateError
from store.records import ContactRecord

CHANNELS = ("sms", "push")
SAMPLE_URL = "https://sojourn.test"


def sample_text(
    renderer: Renderer,
    template: str,
    channel: str,
    contact: ContactRecord,
    data: dict[str, Any],
    locale: str | None = None,
) -> RenderedText:
    """Render the ``channel`` variant of ``template`` for ``contact`` as a send would."""
    context = template_context(
        contact,
        data=data,
        journey=template.split("/")[0],
        message_id="preview",
        site_url=SAMPLE_URL,
        unsubscribe_url=f"{SAMPLE_URL}/u/preview",
        preferences_url=f"{SAMPLE_URL}/u/preview",
        now=datetime.now(UTC),
    )
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
