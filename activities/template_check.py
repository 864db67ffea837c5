"""``sojourn templates check``: render every template in every required locale.

Each message is rendered twice per locale: with the sample data of ``samples.json`` (what a
journey may pass) and with no data at all (what a journey that passes nothing gets), so a
template can neither crash on real data nor on its absence. Templates listed under
``_data_required`` (system messages such as the opt-in confirmation, always sent with their
data) are rendered with their sample data only.
"""

from __future__ import annotations

from typing import Any

from activities.channels.template_check import check_channel_templates
from activities.rendering import REQUIRED_LOCALES, Rendered, Renderer, TemplateError
from activities.samples import load_samples, sample_contact, sample_context
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
            contact = sample_contact(samples, locale)
            variants = [samples.get(template, {})]
            if template not in samples.get("_data_required", []):
                variants.append({})
            for data in variants:
                try:
                    rendered = sample_render(renderer, template, contact, data, locale)
                except TemplateError as exc:
                    problems.append(str(exc))
                    break
                if not rendered.subject:
                    problems.append(f"{locale}/{template}: empty subject")
    # SMS and push variants (activities/channels): the same rules, their own renderer.
    problems += check_channel_templates(
        renderer, samples, lambda locale: sample_contact(samples, locale)
    )
    return problems
