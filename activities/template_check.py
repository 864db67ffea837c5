"""``sojourn templates check``: render every template in every required locale.

Each message is rendered twice per locale: with the sample data of ``samples.json`` (what a
journey may pass) and with no data at all (what a journey that passes nothing gets), so a
template can neither crash on real data nor on its absence. Templates listed under
``_data_required`` (system messages such as the opt-in confirmation, always sent with their
data) are rendered with their sample data only. Each of those renders is done for the sample
contact and for the same contact without a first name, whose subject, preheader and text
must not address them as "there," / "à vous," (see :func:`activities.samples.misaddressed`).
"""

from __future__ import annotations

from typing import Any

from activities.channels.template_check import check_channel_templates
from activities.rendering import REQUIRED_LOCALES, Rendered, Renderer, TemplateError
from activities.samples import (
    load_samples,
    misaddressed,
    sample_contact,
    sample_contacts,
    sample_context,
)
from store.records import ContactRecord

__all__ = ["check_templates", "load_samples", "sample_contact", "sample_render"]


def sample_render(
    renderer: Renderer,
    template: str,
    contact: ContactRecord,
    data: dict[str, Any],
    locale: str | None = None,
) -> Rendered:
    """Render ``template`` for ``contact`` as a real send would (links included)."""
    return renderer.render(template, sample_context(template, contact, data), locale=locale)


def check_templates(renderer: Renderer) -> list[str]:
    """Every problem found: missing locale variants and render errors. Empty means green."""
    samples = load_samples(renderer.root)
    problems: list[str] = []
    for template in renderer.templates():
        for locale in REQUIRED_LOCALES:
            if not renderer.has(template, locale):
                problems.append(f"{template}: no '{locale}' variant")
                continue
            variants = [samples.get(template, {})]
            if template not in samples.get("_data_required", []):
                variants.append({})
            problems += _check_message(renderer, template, locale, samples, variants)
    # SMS and push variants (activities/channels): the same rules, their own renderer.
    problems += check_channel_templates(renderer, samples)
    return problems


def _check_message(
    renderer: Renderer,
    template: str,
    locale: str,
    samples: dict[str, Any],
    variants: list[dict[str, Any]],
) -> list[str]:
    problems: list[str] = []
    for contact in sample_contacts(samples, locale):
        for data in variants:
            try:
                rendered = sample_render(renderer, template, contact, data, locale)
            except TemplateError as exc:
                return [*problems, str(exc)]
            if not rendered.subject:
                problems.append(f"{locale}/{template}: empty subject")
            if contact.first_name:
                continue
            for part in (rendered.subject, rendered.preheader, rendered.text):
                if wrong := misaddressed(part, locale):
                    problems.append(f"{locale}/{template}: without a first name reads {wrong!r}")
    return list(dict.fromkeys(problems))
