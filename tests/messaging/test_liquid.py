"""Liquid templates: strict, autoescaped, the same filters and context as Jinja; check and
preview handle them; the cart journey's templates are Liquid."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from activities.rendering import Renderer, TemplateError
from activities.template_check import check_templates
from store import Store
from tests.messaging.test_templates import AT, contact, context, write
from worker.cli_templates import templates_app

LAYOUT = (
    "<html><body>{% block body %}{% endblock %}"
    "{% include 'partials/footer.html.liquid' %}</body></html>"
)


def tree(tmp_path: Path, html: str, **extra: str) -> Renderer:
    return write(
        tmp_path,
        {
            "_shared/layouts/base.html.liquid": LAYOUT,
            "en/partials/footer.html.liquid": "<p>footer</p>",
            "en/promo/x.subject.liquid": "{{ first_name }} & co: {{ data.total | money: 'EUR' }}",
            "en/promo/x.html.liquid": html,
            **extra,
        },
    )


def test_liquid_renders_with_the_same_context_filters_and_escaping(tmp_path: Path) -> None:
    html = (
        "{% extends 'layouts/base.html.liquid' %}{% block body %}"
        "<p>{{ data.note }}</p><p>{{ data.total | money: 'EUR' }}</p>"
        "<p>{{ data.placed_at | date }}</p>{% endblock %}"
    )
    renderer = tree(tmp_path, html)
    data = {"note": "<b>bold</b>", "total": 1234.5, "placed_at": "2026-03-12T23:30:00Z"}
    fr = renderer.render(
        "promo/x", context(contact(locale="fr", timezone="Europe/Paris"), **data), locale="en"
    )
    assert "&lt;b&gt;bold&lt;/b&gt;" in fr.html, "HTML parts are autoescaped"
    assert "Camille & co" in fr.subject, "subjects are not"
    assert "13 mars 2026" not in fr.html  # rendered in the variant's locale (en)...
    assert "March 13, 2026" in fr.html  # ...in the contact's timezone
    assert "€1,234.50" in fr.html and "<p>footer</p>" in fr.html


def test_an_undefined_variable_names_template_and_variable(tmp_path: Path) -> None:
    renderer = tree(tmp_path, "<p>{{ data.coupon_code }}</p>")
    with pytest.raises(TemplateError) as info:
        renderer.render("promo/x", context(contact(), total=1))
    assert info.value.variable == "data.coupon_code"
    assert "promo/x" in str(info.value)


def test_default_covers_optional_data(tmp_path: Path) -> None:
    renderer = tree(tmp_path, "<p>{{ data.coupon | default: 'none' }}</p>")
    assert "<p>none</p>" in renderer.render("promo/x", context(contact(), total=1)).html


def test_a_missing_part_file_is_named(tmp_path: Path) -> None:
    renderer = tree(tmp_path, "{% render 'partials/nope.html.liquid' %}")
    with pytest.raises(TemplateError, match="nope.html.liquid"):
        renderer.render("promo/x", context(contact(), total=1))


def test_check_lists_liquid_messages_and_their_problems(tmp_path: Path) -> None:
    renderer = tree(
        tmp_path, "<p>{{ nope }}</p>", **{"en/a/j.subject.j2": "x", "en/a/j.html.j2": "y"}
    )
    assert renderer.templates() == ["a/j", "promo/x"]
    assert renderer.is_liquid("promo/x", "en") and not renderer.is_liquid("a/j", "en")
    problems = check_templates(renderer)
    assert "promo/x: no 'fr' variant" in problems
    assert any("promo/x" in p and "undefined" in p for p in problems)


def test_the_shipped_cart_templates_are_liquid_and_check_green() -> None:
    renderer = Renderer()
    assert renderer.is_liquid("cart/reminder", "fr") and renderer.is_liquid("cart/discount", "en")
    assert not renderer.is_liquid("welcome/hello", "en")
    assert check_templates(renderer) == []


async def test_preview_renders_a_liquid_template_with_its_sample_data(
    store: Store, settings: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.contacts.identify(
        "c-7", {"email": "lea@example.com", "firstName": "Léa", "locale": "fr"}, AT
    )
    monkeypatch.setenv("SOJOURN_DATABASE_URL", settings.database_url)  # type: ignore[attr-defined]
    out = tmp_path / "preview"
    args = ["preview", "cart/discount", "--contact", "c-7", "--out", str(out)]
    result = await asyncio.to_thread(CliRunner().invoke, templates_app, args)
    assert result.exit_code == 0, result.output
    assert "Subject: -10 % sur votre panier, Léa" in result.output
    html = (out / "cart-discount.fr.html").read_text(encoding="utf-8")
    assert "CART10" in html and "24,90" in html


def test_an_unknown_message_names_both_file_names_it_looked_for() -> None:
    with pytest.raises(TemplateError, match=r"en/nope/x\.html\.j2, en/nope/x\.html\.liquid"):
        Renderer().resolve("nope/x", "en")
