"""Jinja filters for money and dates, in the contact's locale and timezone, and for names.

The filters read ``locale`` and ``timezone`` from the render context, so a template writes
``{{ order.total | money("EUR") }}`` or ``{{ order.placed_at | date }}`` and gets
``49,90 €`` / ``12 mars 2026`` for a French contact and ``€49.90`` / ``March 12, 2026`` for
an English one. ``{{ "your cart is waiting" | addressed }}`` starts a sentence with the
contact's first name when there is one (``name_prefix``): ``Ada, your cart is waiting``, or
``Your cart is waiting``. The Liquid environment gets the same filters.

Contact and event data is loosely typed, so a value a filter cannot format (a price of
``"abc"`` or NaN, a date of ``"yesterday"``, a timestamp past year 9999, a currency that is
not an ISO code) raises :class:`FilterError`, which the renderer reports with the template,
line and expression: the send fails for good and says why, instead of a plain ``ValueError``
that Temporal would retry for ever, or ``€NaN.00`` in someone's inbox. The messages name types,
never values: they reach Temporal's history, and a trait may be personal data.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
import liquid
from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from jinja2 import pass_context
from jinja2.runtime import Context

DEFAULT_LOCALE = "en"
DEFAULT_TIMEZONE = "UTC"
# ISO 4217 "no currency": an amount with it, or with none at all, is shown without a symbol
# (babel's "¤3.00" means nothing to a recipient, and guessing one could show the wrong one).
NO_CURRENCY = ("", "XXX")
_CODE = re.compile(r"[A-Z]{3}")


class FilterError(ValueError):
    """A value a template filter cannot format; the renderer adds where in which template."""


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _checked(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Any other failure of filter ``name`` (babel, datetime arithmetic) as a FilterError.

    Only the exception's type is kept: its text may quote the contact's data.
    """

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)  # keeps jinja's pass_context mark
        def checked(*args: Any, **kwargs: Any) -> Any:
            for arg in (*args, *kwargs.values()):
                if isinstance(arg, jinja2.Undefined | liquid.Undefined):
                    str(arg)  # strict: raises the error that names the undefined variable
            try:
                return function(*args, **kwargs)
            except FilterError:
                raise
            except (ArithmeticError, ValueError, TypeError, LookupError) as exc:
                raise FilterError(
                    f"{name}: cannot format the value ({type(exc).__name__})"
                ) from exc

        return checked

    return wrap


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


def _moment(value: Any, name: str) -> datetime | date:
    # Journey data travels as JSON, so dates arrive as ISO strings more often than not.
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise FilterError(f"{name}: the timestamp is out of range") from exc
    if not isinstance(value, str):
        raise FilterError(f"{name}: expected an ISO 8601 date or a timestamp, got {_kind(value)}")
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise FilterError(f"{name}: the text is not an ISO 8601 date") from exc


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise FilterError(f"money: the amount must be a number, got {_kind(value)}")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise FilterError("money: the amount is text that is not a number") from exc
    if not amount.is_finite():
        raise FilterError("money: the amount is not a finite number")
    return amount


def _currency(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FilterError(f"money: the currency must be an ISO 4217 code, got {_kind(value)}")
    code = value.strip().upper()
    if code not in NO_CURRENCY and not (_CODE.fullmatch(code) and babel_numbers.is_currency(code)):
        shown = f" {code!r}" if len(code) <= 8 else ""
        raise FilterError(f"money: the currency{shown} is not an ISO 4217 code")
    return code


@pass_context
@_checked("money")
def money(context: Context, amount: Any, currency: Any = "EUR") -> str:
    """``49.9 | money("EUR")`` in the contact's locale; ``"eur"`` is read as ``EUR``, and
    without a currency (null, ``""``, ``XXX``) the amount has no symbol: ``49.90``."""
    value, code = _amount(amount), _currency(currency)
    locale = babel_locale(context.get("locale"))
    if code in NO_CURRENCY:
        return babel_numbers.format_decimal(value, format="#,##0.00", locale=locale)
    return babel_numbers.format_currency(value, code, locale=locale)


@pass_context
@_checked("date")
def format_date(context: Context, value: Any, format: str = "long") -> str:
    """A date (or the local date of a datetime) in the contact's locale and timezone."""
    moment = _moment(value, "date")
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(zone(context.get("timezone"))).date()
    return babel_dates.format_date(moment, format, locale=babel_locale(context.get("locale")))


@pass_context
@_checked("datetime")
def format_datetime(context: Context, value: Any, format: str = "medium") -> str:
    """A moment in the contact's locale, shown in their timezone."""
    moment = _moment(value, "datetime")
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


def default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's ``default``, which also stands in for null: JSON data sends ``"code": null`` as
    often as it leaves the key out, and ``{{ data.code | default("BDAY15") }}`` printed
    ``None``. Liquid's ``default`` already treats nil so; Jinja templates get this one."""
    if value is None:
        return default_value
    return jinja2.filters.do_default(value, default_value, boolean)


FILTERS: dict[str, Callable[..., Any]] = {
    "money": money,
    "date": format_date,
    "datetime": format_datetime,
    "addressed": addressed,
}
