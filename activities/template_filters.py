"""Jinja filters for money and dates, in the contact's locale and timezone, and for names.

The filters read ``locale`` and ``timezone`` from the render context, so a template writes
``{{ order.total | money("EUR") }}`` or ``{{ order.placed_at | date }}`` and gets
``49,90 €`` / ``12 mars 2026`` for a French contact and ``€49.90`` / ``March 12, 2026`` for
an English one. ``{{ "your cart is waiting" | addressed }}`` starts a sentence with the
contact's first name when there is one (``name_prefix``): ``Ada, your cart is waiting``, or
``Your cart is waiting``. The Liquid environment gets the same filters.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from jinja2 import pass_context
from jinja2.runtime import Context

DEFAULT_LOCALE = "en"
DEFAULT_TIMEZONE = "UTC"


def babel_locale(value: str | None) -> str:
    """A locale Babel knows (``fr-FR`` → ``fr_FR``); the default when unknown."""
    if not value:
        return DEFAULT_LOCALE
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        return DEFAULT_LOCALE


def zone(value: str | None) -> ZoneInfo:
    """The contact's timezone; UTC when unknown (a bad value must not fail a send)."""
    try:
        return ZoneInfo(value or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def _moment(value: Any) -> datetime | date:
    # Journey data travels as JSON, so dates arrive as ISO strings more often than not.
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed


@pass_context
def money(context: Context, amount: Any, currency: str = "EUR") -> str:
    """``49.9 | money("EUR")`` in the contact's locale."""
    return babel_numbers.format_currency(
        Decimal(str(amount)), currency, locale=babel_locale(context.get("locale"))
    )


@pass_context
def format_date(context: Context, value: Any, format: str = "long") -> str:
    """A date (or the local date of a datetime) in the contact's locale and timezone."""
    moment = _moment(value)
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(zone(context.get("timezone"))).date()
    return babel_dates.format_date(moment, format, locale=babel_locale(context.get("locale")))


@pass_context
def format_datetime(context: Context, value: Any, format: str = "medium") -> str:
    """A moment in the contact's locale, shown in their timezone."""
    moment = _moment(value)
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return babel_dates.format_datetime(
        moment,
        format,
        tzinfo=zone(context.get("timezone")),
        locale=babel_locale(context.get("locale")),
    )


@pass_context
def addressed(context: Context, text: Any) -> str:
    """``"you left…" | addressed``: ``Ada, you left…``, or ``You left…`` without a name."""
    text = str(text)
    prefix = context.get("name_prefix") or ""
    return f"{prefix}{text}" if prefix else text[:1].upper() + text[1:]


FILTERS: dict[str, Callable[..., Any]] = {
    "money": money,
    "date": format_date,
    "datetime": format_datetime,
    "addressed": addressed,
}
