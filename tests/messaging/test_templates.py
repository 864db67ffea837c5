"""Templates: sandbox, strictness, locales, layouts, preheader, filters, CSS, text, CLI."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from activities.personalise import template_context
from activities.rendering import Renderer, TemplateError, locale_candidates
from activities.template_check import check_templates
from store import Store
from store.records import ContactRecord
from worker.cli_templates import templates_app

AT = datetime(2026, 1, 5, tzinfo=UTC)


def contact(**fields: object) -> ContactRecord:
    base: dict[str, object] = {"id": "c1", "first_name": "Camille", "created_at": AT}
    return ContactRecord(updated_at=AT, **{**base, **fields})  # type: ignore[arg-type]


def context(who: ContactRecord, **data: object) -> dict[str, object]:
    return template_context(
        who,
        data=data,
        site_url="https://shop.test",
        unsubscribe_url="https://links.test/u/t",
        preferences_url="https://links.test/u/t",
    )


def write(root: Path, files: dict[str, str]) -> Renderer:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    return Renderer(root)


def test_locale_candidates_fall_back_to_language_then_default() -> None:
    assert locale_candidates("fr_CA") == ["fr-ca", "fr", "en"]
    assert locale_candidates(None, "fr") == ["fr"]


@pytest.mark.parametrize(
    ("locale", "subject", "footer"),
    [
        ("fr", "Bienvenue, Camille !", "Gérer vos préférences"),
        ("fr-CA", "Bienvenue, Camille !", "Gérer vos préférences"),
        ("en", "Welcome, Camille!", "Manage your preferences"),
        ("de", "Welcome, Camille!", "Manage your preferences"),
        (None, "Welcome, Camille!", "Manage your preferences"),
    ],
)
def test_locale_variant_follows_the_contact(locale: str | None, subject: str, footer: str) -> None:
    rendered = Renderer().render("welcome/hello", context(contact(locale=locale)))
    assert rendered.subject == subject
    # The footer is a per-locale partial included by the shared layout.
    assert footer in rendered.html


def test_preheader_is_hidden_in_html_and_absent_from_text() -> None:
    rendered = Renderer().render("welcome/offer", context(contact(locale="fr")))
    assert rendered.preheader == "Votre code de bienvenue est valable 5 jours."
    assert rendered.preheader in rendered.html
    assert "display: none" in rendered.html
    assert rendered.preheader not in rendered.text


def test_css_is_inlined_and_text_is_derived_from_html() -> None:
    rendered = Renderer().render("welcome/offer", context(contact(locale="en")))
    assert "<style" not in rendered.html
    assert '<h1 style="' in rendered.html
    # welcome/offer ships no .txt: the text part comes from the HTML, links kept.
    assert "15% off your first order" in rendered.text
    assert "(https://shop.test/?code=WELCOME15)" in rendered.text
    assert "<" not in rendered.text


def test_html_is_autoescaped_but_text_is_not_mangled() -> None:
    rendered = Renderer().render("welcome/hello", context(contact(first_name="<b>Jo</b> & Co")))
    assert "&lt;b&gt;Jo&lt;/b&gt; &amp; Co" in rendered.html
    assert "<b>Jo</b> & Co" in rendered.text


def test_money_and_dates_follow_locale_and_timezone() -> None:
    order = {
        "products": [{"name": "Sac", "price": 60, "currency": "EUR", "url": "https://s/p"}],
        "total": 1234.5,
        # 23:30 UTC on the 12th is already the 13th in Paris.
        "placed_at": "2026-03-12T23:30:00Z",
    }
    fr = Renderer().render(
        "cross_sell/thank_you", context(contact(locale="fr", timezone="Europe/Paris"), **order)
    )
    assert "1\u202f234,50\xa0€" in fr.html or "1 234,50" in fr.text
    assert "13 mars 2026" in fr.html
    en = Renderer().render(
        "cross_sell/thank_you", context(contact(locale="en", timezone="America/New_York"), **order)
    )
    assert "€1,234.50" in en.html
    assert "March 12, 2026" in en.html


def test_undefined_variable_names_template_and_variable(tmp_path: Path) -> None:
    renderer = write(
        tmp_path,
        {
            "en/promo/x.subject.j2": "Hi {{ first_name }}",
            "en/promo/x.html.j2": "<p>{{ coupon_code }}</p>",
        },
    )
    with pytest.raises(TemplateError) as info:
        renderer.render("promo/x", context(contact()))
    assert info.value.variable == "coupon_code"
    assert "promo/x" in str(info.value) and "coupon_code" in str(info.value)


def test_sandbox_refuses_python_internals(tmp_path: Path) -> None:
    renderer = write(
        tmp_path,
        {
            "en/evil/x.subject.j2": "x",
            "en/evil/x.html.j2": "{{ data.__class__.__mro__ }}",
            "en/evil/y.subject.j2": "x",
            "en/evil/y.html.j2": "{% set _ = traits.update({'a': 1}) %}ok",
        },
    )
    with pytest.raises(TemplateError, match="evil/x"):
        renderer.render("evil/x", context(contact()))
    # Immutable sandbox: a template cannot change the data it is given.
    with pytest.raises(TemplateError, match="not allowed|unsafe"):
        renderer.render("evil/y", context(contact()))


def test_check_is_green_on_the_builtin_templates() -> None:
    renderer = Renderer()
    assert check_templates(renderer) == []
    assert "welcome/hello" in renderer.templates("fr")


def test_templates_lists_messages_not_partials_or_layouts(tmp_path: Path) -> None:
    # Discovery is tested on its own tree, so adding a shipped template never breaks a test.
    renderer = write(
        tmp_path,
        {
            "en/a/one.subject.j2": "x",
            "en/a/one.html.j2": "x",
            "en/b/two.subject.j2": "x",
            "en/b/two.html.j2": "x",
            "en/partials/footer.html.j2": "x",
            "fr/a/one.html.j2": "x",
            "fr/layouts/base.html.j2": "x",
        },
    )
    assert renderer.templates() == ["a/one", "b/two"]
    assert renderer.templates("fr") == ["a/one"]


def test_check_reports_missing_locale_and_errors(tmp_path: Path) -> None:
    renderer = write(
        tmp_path,
        {
            "_shared/layouts/.keep": "",
            "en/a/b.subject.j2": "Hi",
            "en/a/b.html.j2": "<p>{{ nope }}</p>",
        },
    )
    problems = check_templates(renderer)
    assert "a/b: no 'fr' variant" in problems
    assert any("nope" in p for p in problems)


def test_cli_check_exits_zero() -> None:
    result = CliRunner().invoke(templates_app, ["check"])
    assert result.exit_code == 0, result.output
    assert "0 problems" in result.output


async def test_cli_preview_writes_html_and_text(
    store: Store, settings: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.contacts.identify(
        "c-42", {"email": "lea@example.com", "firstName": "Léa", "locale": "fr"}, AT
    )
    monkeypatch.setenv("SOJOURN_DATABASE_URL", settings.database_url)  # type: ignore[attr-defined]
    out = tmp_path / "preview"
    args = ["preview", "welcome/hello", "--contact", "c-42", "--out", str(out)]
    result = await asyncio.to_thread(CliRunner().invoke, templates_app, args)
    assert result.exit_code == 0, result.output
    assert "Subject: Bienvenue, Léa !" in result.output
    assert "Léa" in (out / "welcome-hello.fr.html").read_text(encoding="utf-8")
    assert (out / "welcome-hello.fr.txt").exists()
    english = await asyncio.to_thread(CliRunner().invoke, templates_app, [*args, "--locale", "en"])
    assert "Subject: Welcome, Léa!" in english.output
    missing = await asyncio.to_thread(
        CliRunner().invoke, templates_app, ["preview", "welcome/hello", "--contact", "nobody"]
    )
    assert missing.exit_code == 1


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--data", "{bad"], "--data is not JSON"),  # a JSONDecodeError traceback
        (["--data", "[1]"], "--data must be a JSON object, got an array"),  # a TypeError one
        (["--channel", "fax"], "--channel 'fax': use email, sms, push"),  # printed "'fax'"
        (["--locale", "zz"], "--locale 'zz': the templates exist in en, fr"),  # silently en
        (["--out", "{file}"], "is a file: name a folder"),  # FileExistsError traceback
    ],
)
async def test_cli_preview_names_a_bad_option(
    store: Store,
    settings: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    says: str,
) -> None:
    await store.contacts.identify("c-43", {"email": "c43@example.com"}, AT)
    monkeypatch.setenv("SOJOURN_DATABASE_URL", settings.database_url)  # type: ignore[attr-defined]
    a_file = tmp_path / "taken"
    a_file.write_text("")
    args = ["preview", "welcome/hello", "--contact", "c-43", "--out", str(tmp_path / "p")]
    args += [e.replace("{file}", str(a_file)) for e in extra]
    result = await asyncio.to_thread(CliRunner().invoke, templates_app, args)
    assert result.exit_code == 1, result.output
    assert says in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "p").exists()  # nothing written
