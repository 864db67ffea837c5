"""Phone numbers to E.164 with ``phonenumbers``: what Twilio accepts and STOP replies carry.

A number written nationally (``06 12 34 56 78``) is read in the contact's country (the
``country`` trait, a two-letter code) or the configured default region.
"""

from __future__ import annotations

import phonenumbers


class InvalidPhone(ValueError):
    """A phone trait that is not a valid number; the message names the trait."""

    def __init__(self, trait: str, problem: str) -> None:
        super().__init__(f"trait '{trait}' is not a valid phone number ({problem})")
        self.trait = trait


def to_e164(raw: str, region: str | None = None, *, trait: str = "phone") -> str:
    """``raw`` as ``+<country><number>``.

    Raises:
        InvalidPhone: unparseable, impossible or unassigned for its country.
    """
    region = region.upper() if region and len(region) == 2 else None
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(trait, "unreadable") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(trait, "no such number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def maybe_e164(raw: str | None, region: str | None = None) -> str | None:
    """``raw`` in E.164, or None when it is missing or invalid."""
    if not raw:
        return None
    try:
        return to_e164(raw, region)
    except InvalidPhone:
        return None
