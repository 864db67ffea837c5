"""Loosely typed contact and event data: a value a template cannot format fails the send for
good, naming template, line and expression, instead of a plain exception Temporal retries for
ever; what the recipient sees is never ``€NaN.00``, ``¤12.00`` or an escaped subject."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from activities.catalog_models import Recommendations
from activities.channels.render import render_text
from activities.channels.sms_segments import sms_length
from activities.policy import MessagingPolicy
from activities.providers import OutboxProvider
from activities.rendering import Renderer, TemplateError, locale_candidates
from activities.script_links import is_script_url, without_script_links
from journeys.cross_sell import thank_you_data
from store import Store
from tests.messaging.conftest import add_contact, make_sender, prepare, request
from tests.messaging.test_templates import contact, context, write
from workflows.models import Event

ORDER = {"products": [{"name": "Sac", "price": 60, "currency": "EUR", "url": "https://s/p"}]}


def money_tree(tmp_path: Path, html: str, liquid: bool = False) -> Renderer:
    ext = "liquid" if liquid else "j2"
    return write(
        tmp_path,
        {f"en/promo/x.subject.{ext}": "Your order", f"en/promo/x.html.{ext}": html},
    )


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"total": "abc"}, "money: the amount is text that is not a number"),
        ({"total": "NaN"}, "money: the amount is not a finite number"),
        ({"total": [12]}, "money: the amount must be a number, got list"),
        ({"total": 12, "currency": "NOPE"}, "money: the currency 'NOPE' is not an ISO 4217 code"),
        ({"total": 12, "currency": 5}, "must be an ISO 4217 code, got int"),
        ({"total": 12, "placed_at": "yesterday"}, "date: the text is not an ISO 8601 date"),
        ({"total": 12, "placed_at": 1e20}, "date: the timestamp is out of range"),
        ({"total": 12, "placed_at": "9999-12-31T23:00:00-05:00"}, "date: cannot format"),
    ],
)
def test_bad_order_data_names_the_template_line_and_expression(
    data: dict[str, Any], says: str
) -> None:
    with pytest.raises(TemplateError) as info:
        Renderer().render("cross_sell/thank_you", context(contact(), **ORDER, **data))
    message = str(info.value)
    assert message.startswith("template cross_sell/thank_you (en html): ")
    assert says in message
    # Where, and which expression: the template's line, never the contact's value.
    assert "at en/cross_sell/thank_you.html.j2 line" in message
    assert "data.placed_at | date" in message or "data.total | money" in message
    assert "yesterday" not in message.replace(says, "")


def test_a_string_quantity_fails_naming_the_partial_line() -> None:
    products = [{**ORDER["products"][0], "quantity": "2"}]
    with pytest.raises(TemplateError) as info:
        Renderer().render("cross_sell/thank_you", context(contact(), products=products))
    assert "TypeError in an expression" in str(info.value)
    assert "at _shared/partials/products.html.j2 line 4" in str(info.value)


def test_money_without_a_currency_shows_no_symbol_and_reads_lower_case(tmp_path: Path) -> None:
    html = "<p>{{ data.a | money(data.none) }}|{{ data.a | money('XXX') }}|"
    html += "{{ data.a | money('usd') }}</p>"
    rendered = money_tree(tmp_path, html).render("promo/x", context(contact(), a="12", none=None))
    # babel would print "¤12.00" (no currency) and "usd12.00" (a code it does not know).
    assert "<p>12.00|12.00|$12.00</p>" in rendered.html


def test_liquid_filters_fail_with_template_line_and_expression(tmp_path: Path) -> None:
    renderer = money_tree(tmp_path, "<p>\n{{ data.total | money: data.currency }}</p>", True)
    with pytest.raises(TemplateError) as info:
        renderer.render("promo/x", context(contact(), total="abc", currency="EUR"))
    message = str(info.value)
    assert "money: the amount is text that is not a number" in message
    assert "line 2: {{ data.total | money: data.currency }}" in message


def test_sms_filters_fail_as_template_errors(tmp_path: Path) -> None:
    renderer = write(tmp_path, {"en/promo/x.sms.j2": "Valid until {{ data.until | date }}"})
    with pytest.raises(TemplateError) as info:
        render_text(renderer, "promo/x", "sms", context(contact(), until="soon"), None)
    assert "date: the text is not an ISO 8601 date, at en/promo/x.sms.j2 line 1" in str(info.value)


async def test_the_send_fails_for_good_on_a_bad_price(
    store: Store, outbox: OutboxProvider, policy: MessagingPolicy
) -> None:
    sender = make_sender(store, outbox, policy)
    who = await add_contact(store)
    bad = {"upgrade": {"name": "Pro", "price": "9,90", "currency": "EUR", "url": "https://s/u"}}
    with pytest.raises(ApplicationError) as info:
        await prepare(sender, request(who, template="cross_sell/upgrade", data=bad))
    assert info.value.type == "TemplateError" and info.value.non_retryable
    assert "cross_sell/upgrade" in str(info.value) and "data.upgrade.price | money" in str(
        info.value
    )
    assert await store.messages.list(contact_id=who) == []


async def test_an_arm_subject_is_plain_text_and_its_errors_are_final(
    store: Store, outbox: OutboxProvider, policy: MessagingPolicy
) -> None:
    sender = make_sender(store, outbox, policy)
    who = await add_contact(store, firstName="Zoë & <Jo> O'Brien")
    req = request(who, subject="A gift for {{ first_name }}")
    await prepare(sender, req)
    [message] = await store.messages.list(contact_id=who)
    stored = await store.messages.get(message.key)
    assert stored is not None
    assert stored.subject == "A gift for Zoë & <Jo> O'Brien"
    assert stored.headers["Subject"] == stored.subject
    with pytest.raises(ApplicationError) as info:
        await prepare(sender, request(who, subject="Hi {{ first_nme }}"))
    assert info.value.type == "TemplateError" and info.value.non_retryable
    assert "arm subject" in str(info.value) and "first_nme" in str(info.value)


@pytest.mark.parametrize("wanted", ["../../etc", "/", "..", "fr/../../x", "fr-CA/../en"])
def test_a_locale_never_names_a_folder_outside_the_templates(wanted: str) -> None:
    assert all("/" not in c and "." not in c for c in locale_candidates(wanted)), locale_candidates(
        wanted
    )


def test_a_locale_with_an_encoding_still_gets_its_language() -> None:
    assert locale_candidates("fr_FR.UTF-8") == ["fr", "en"]
    assert locale_candidates("fr_CA") == ["fr-ca", "fr", "en"]


def test_a_null_value_gets_the_templates_fallback(tmp_path: Path) -> None:
    # JSON sends "code": null as often as it leaves the key out; both printed "None".
    rendered = Renderer().render(
        "birthday/discount", context(contact(locale="en"), code=None, percent=None)
    )
    assert "None" not in rendered.text and "None" not in rendered.preheader
    assert "BDAY15" in rendered.text and "15% off" in rendered.preheader
    html = "<p>{{ data.x | default('fallback') }}|{{ data.zero | default(7) }}</p>"
    flat = money_tree(tmp_path, html).render("promo/x", context(contact(), x=None, zero=0))
    assert "<p>fallback|0</p>" in flat.html


@pytest.mark.parametrize("products", [5, True, 1.5, "abc", {"sku": "x"}, None])
def test_an_order_whose_products_are_not_a_list_still_gets_its_thank_you(products: Any) -> None:
    order = Event(
        message_id="o1",
        name="Order Completed",
        properties={"products": products, "total": 49.9, "currency": "EUR"},
    )
    data = thank_you_data(order, Recommendations())
    assert data == {"total": 49.9, "currency": "EUR"}


def test_half_an_emoji_is_shown_as_a_replacement_character(tmp_path: Path) -> None:
    # "\ud83d" alone: an app cut "😀" in UTF-16 units. No encoding holds it: the SMS's
    # segment count (UTF-16) raised UnicodeEncodeError, a plain error retried for ever.
    name = "Sac \ud83d"
    renderer = write(
        tmp_path,
        {
            "en/promo/x.subject.j2": "{{ data.name }}",
            "en/promo/x.html.j2": "<p>{{ data.name }}</p>",
            "en/promo/x.sms.j2": "{{ data.name }} is waiting",
        },
    )
    email = renderer.render("promo/x", context(contact(), name=name))
    assert email.subject == "Sac \ufffd" and "<p>Sac \ufffd</p>" in email.html
    assert email.text == "Sac \ufffd\n"
    sms = render_text(renderer, "promo/x", "sms", context(contact(), name=name), None)
    assert sms.body == "Sac \ufffd is waiting"
    assert sms_length(sms.body).segments == 1


SCRIPT_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " java\tscript:alert(1)",  # browsers drop the tab and the space
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
]
# Markup a template author may write around a URL from data; each once hid the href from a
# pattern match (an earlier attribute holding "href=", spaces around "=", no quotes, a ">"
# in a quoted value, other elements and URL attributes).
SHAPES = [
    '<a href="{{ data.url }}">Your product</a>',
    "<a href='{{ data.url }}'>Your product</a>",
    '<a title="{{ data.name }}" href="{{ data.url }}">Your product</a>',
    '<a data-href="/x" href="{{ data.url }}">Your product</a>',
    '<a\n  class="button"\n  href = "{{ data.url }}">Your product</a>',
    "<a href={{ data.url | replace(' ', '') }}>Your product</a>",
    '<a title="a>b" href="{{ data.url }}">Your product</a>',
    '<map><area shape="rect" coords="0,0,1,1" href="{{ data.url }}" /></map>',
    '<form action="{{ data.url }}"><button formaction="{{ data.url }}">Go</button></form>',
    '<svg><a xlink:href="{{ data.url }}"><text>Go</text></a></svg>',
]


class _Urls(HTMLParser):
    """Every URL attribute of every start tag, as a browser would read it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [
            v or "" for k, v in attrs if k in ("href", "xlink:href", "action", "formaction")
        ]


def _urls(html: str) -> list[str]:
    parser = _Urls()
    parser.feed(html)
    parser.close()
    return parser.urls


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("url", SCRIPT_URLS)
def test_a_script_link_from_event_data_is_made_inert(tmp_path: Path, url: str, shape: str) -> None:
    html = f'<p>Hello</p>\n{shape}\n<p><a href="https://shop.example/">Shop</a></p>'
    data = context(contact(), url=url, name="Bag href=")
    rendered = money_tree(tmp_path, html).render("promo/x", data)
    urls = _urls(rendered.html)
    assert urls[-1] == "https://shop.example/"  # the rest is kept
    # "#" mostly; an unquoted value split at a tab is a relative link ("java"), inert too.
    assert not [u for u in urls if is_script_url(u)], rendered.html
    assert "script:" not in rendered.text.lower() and "data:" not in rendered.text


@pytest.mark.parametrize(
    "url", ["https://shop.example/p?a=1&b=2", "mailto:help@shop.example", "/account", "#top"]
)
def test_every_other_link_is_kept(tmp_path: Path, url: str) -> None:
    html = '<p><a title="{{ data.name }}" href="{{ data.url }}">link</a></p>'
    rendered = money_tree(tmp_path, html).render("promo/x", context(contact(), url=url, name="x"))
    assert f'href="{url.replace("&", "&amp;")}"' in rendered.html


def test_only_the_tags_with_a_script_link_are_rewritten() -> None:
    # An inline image may be data: (src is not a link); only the tag with the link changes.
    kept = "<p class=a>Hi</p>\r\n"
    image = "<br/><img src=data:image/png;base64,AA>"
    html = f"{kept}<A HREF='JAVASCRIPT:x' id=k>x</A>{image}"
    assert without_script_links(html) == f'{kept}<a href="#" id="k">x</A>{image}'
