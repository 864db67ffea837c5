"""Messages read naturally with and without a first name: ``name_prefix``/``name_suffix`` and
the ``addressed`` filter, in Jinja and Liquid; every shipped template for a nameless contact;
``templates check`` names a template that calls one "there,"."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.channels.render import channel_templates, has_variant
from activities.channels.template_check import sample_text
from activities.personalise import FIRST_NAME_FALLBACK
from activities.rendering import REQUIRED_LOCALES, Renderer
from activities.samples import load_samples, misaddressed, sample_contact
from activities.template_check import check_templates, sample_render
from store.records import ContactRecord
from tests.messaging.test_templates import contact, context, write

SHIPPED = Renderer()
SAMPLES = load_samples(SHIPPED.root)


def nameless(locale: str) -> ContactRecord:
    return sample_contact(SAMPLES, locale).model_copy(update={"first_name": None})


def assert_reads_well(text: str, locale: str, what: str) -> None:
    fallback = FIRST_NAME_FALLBACK[locale]
    assert not text.startswith(f"{fallback},"), f"{what}: {text!r}"
    assert not text[:1].islower(), f"{what} starts lower-case: {text!r}"
    assert misaddressed(text, locale) is None, f"{what}: {text!r}"


@pytest.mark.parametrize("locale", REQUIRED_LOCALES)
@pytest.mark.parametrize("template", SHIPPED.templates())
def test_every_email_reads_well_without_a_first_name(template: str, locale: str) -> None:
    rendered = sample_render(SHIPPED, template, nameless(locale), SAMPLES.get(template, {}), locale)
    assert_reads_well(rendered.subject, locale, f"{locale}/{template} subject")
    for line in rendered.text.splitlines():
        assert misaddressed(line, locale) is None, f"{locale}/{template} text: {line!r}"


CHANNEL_TEMPLATES = [
    (channel, template)
    for channel in ("sms", "push")
    for template in channel_templates(SHIPPED, channel)
]


@pytest.mark.parametrize("locale", REQUIRED_LOCALES)
@pytest.mark.parametrize(("channel", "template"), CHANNEL_TEMPLATES)
def test_every_sms_and_push_reads_well_without_a_first_name(
    channel: str, template: str, locale: str
) -> None:
    assert has_variant(SHIPPED, template, channel, locale)
    for data in (SAMPLES.get(template, {}), {}):
        text = sample_text(SHIPPED, template, channel, nameless(locale), data, locale)
        body = text.body.removeprefix("Sojourn: ").removeprefix("Sojourn : ")
        assert_reads_well(body, locale, f"{locale}/{template} {channel}")
        if text.title:
            assert_reads_well(text.title, locale, f"{locale}/{template} {channel} title")


@pytest.mark.parametrize(
    ("locale", "first_name", "subject", "heading"),
    [
        ("en", "Ada", "Ada, you left something in your cart", "Still thinking it over, Ada?"),
        ("en", None, "You left something in your cart", "Still thinking it over?"),
        ("fr", "Ada", "Ada, vous avez oublié quelque chose dans votre panier", "Vous hésitez"),
        ("fr", None, "Vous avez oublié quelque chose dans votre panier", "Vous hésitez"),
    ],
)
def test_the_cart_reminder_with_and_without_a_name(
    locale: str, first_name: str | None, subject: str, heading: str
) -> None:
    who = sample_contact(SAMPLES, locale).model_copy(update={"first_name": first_name})
    rendered = sample_render(SHIPPED, "cart/reminder", who, SAMPLES["cart/reminder"], locale)
    assert rendered.subject == subject
    assert heading in rendered.text
    assert ("Ada" in rendered.text) == bool(first_name)


@pytest.mark.parametrize("suffix", [".j2", ".liquid"])
def test_addressed_and_name_suffix_in_jinja_and_liquid(tmp_path: Path, suffix: str) -> None:
    html = '<p>{{ "your cart is waiting" | addressed }}.</p><p>Welcome{{ name_suffix }}!</p>'
    renderer = write(
        tmp_path,
        {
            f"en/promo/x.subject{suffix}": 'Hi {{ first_name }}: {{ "you won" | addressed }}',
            f"en/promo/x.html{suffix}": html,
        },
    )
    named = renderer.render("promo/x", context(contact(first_name="<Ada>")))
    assert named.subject == "Hi <Ada>: <Ada>, you won", "subjects are not escaped"
    assert "<p>&lt;Ada&gt;, your cart is waiting.</p>" in named.html, "HTML parts are"
    assert "Welcome, &lt;Ada&gt;!" in named.html
    for blank in (None, "", "  "):
        bare = renderer.render("promo/x", context(contact(first_name=blank)))
        assert bare.subject == "Hi there: You won", "the greeting keeps its fallback"
        assert "<p>Your cart is waiting.</p>" in bare.html
        assert "<p>Welcome!</p>" in bare.html


def test_check_names_a_template_that_calls_a_nameless_contact_there(tmp_path: Path) -> None:
    files = {
        "en/promo/x.subject.j2": "{{ first_name }}, your cart is waiting",
        "en/promo/x.html.j2": "<p>Thanks, {{ first_name }}!</p>",
        "en/promo/x.sms.j2": "Sojourn: {{ first_name }}, your cart is waiting",
    }
    files |= {f"fr/{k[3:]}": v for k, v in files.items()}
    problems = check_templates(write(tmp_path, files))
    assert "en/promo/x: without a first name reads 'there, your cart is waiting'" in problems
    assert "en/promo/x: without a first name reads 'Thanks, there!'" in problems
    assert "fr/promo/x: without a first name reads 'à vous, your cart is waiting'" in problems
    assert any(p.startswith("en/promo/x sms: without a first name") for p in problems)
    assert len(problems) == 6, problems


def test_misaddressed_leaves_greetings_alone() -> None:
    assert misaddressed("Hi there, welcome aboard", "en") is None
    assert misaddressed("Bonjour à vous, bienvenue", "fr") is None
    assert misaddressed("Once there, you can rest", "en") is None
    assert misaddressed("Sojourn: there, your cart", "en") == "Sojourn: there, your cart"
    assert misaddressed("Merci, à vous !", "fr") == "Merci, à vous !"
