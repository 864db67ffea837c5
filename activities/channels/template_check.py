"""``sojourn templates check`` for SMS and push variants: every locale, sample data and none,
for the sample contact and for the same contact without a first name (whose text must not
address them as "there," / "à vous,")."""

from __future__ import annotations

from typing import Any

from activities.channels.render import RenderedText, channel_templates, has_variant, render_text
from activities.rendering import REQUIRED_LOCALES, Renderer, TemplateError
from activities.samples import misaddressed, sample_contacts, sample_context
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


def check_channel_templates(renderer: Renderer, samples: dict[str, Any]) -> list[str]:
    """Problems of the ``.sms.j2`` / ``.push.j2`` variants."""
    problems: list[str] = []
    for channel in CHANNELS:
        for template in channel_templates(renderer, channel):
            for locale in REQUIRED_LOCALES:
                if not has_variant(renderer, template, channel, locale):
                    problems.append(f"{template}: no '{locale}' {channel} variant")
                    continue
                problems += _check_variant(renderer, template, channel, locale, samples)
    return problems


def _check_variant(
    renderer: Renderer, template: str, channel: str, locale: str, samples: dict[str, Any]
) -> list[str]:
    problems: list[str] = []
    variants: list[dict[str, Any]] = [samples.get(template, {}), {}]
    for contact in sample_contacts(samples, locale):
        for data in variants:
            try:
                text = sample_text(renderer, template, channel, contact, data, locale)
            except TemplateError as exc:
                return [*problems, f"{channel}: {exc}"]
            if contact.first_name:
                continue
            for part in (text.title, text.body):
                if wrong := misaddressed(part, locale):
                    where = f"{locale}/{template} {channel}"
                    problems.append(f"{where}: without a first name reads {wrong!r}")
    return list(dict.fromkeys(problems))
