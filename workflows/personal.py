"""The rule that keeps personal data out of workflow histories.

Event properties reach Temporal (and so its history, its Web UI and every replay) only after
:func:`strip_personal` has removed what looks personal, at any depth:

- **keys**, compared without case and separators (``Email``, ``user_email``, ``e-mail``,
  ``phoneNumber``, ``Last Name`` and ``lastname`` are all the same words): a key is personal
  when one of its words is personal (``email``, ``phone``, ``address``, ``ip``, ``ssn``…), when
  the key glued together contains a personal stem (``useremail``, ``phonenumber``,
  ``dateofbirth``), or when it is a name of a person (``name`` alone, or ``first``/``last``/
  ``full``/``user``… + ``name``; ``product_name`` is kept);
- **values**, whatever their key: a string that holds an email address or reads as a phone
  number is dropped (from objects and from lists).

The rule errs on the side of dropping: a journey that needs a personal value reads it from the
store in an activity, where it never becomes part of a history. Keys Sojourn sets itself to
attribute events (``email_id``, journey, step…) are kept; their values are still checked.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# A word of the key is enough: ``billing_address``, ``ip``, ``mobile``, ``dob``.
PERSONAL_WORDS = frozenset(
    {
        "email", "mail", "phone", "mobile", "cell", "tel", "telephone", "fax", "sms", "whatsapp",
        "surname", "firstname", "lastname", "fullname", "username", "nickname", "address",
        "street", "city", "zip", "zipcode", "postcode", "postal", "ip", "ipv4", "ipv6", "ssn",
        "passport", "iban", "birthday", "birthdate", "dob", "password", "passwd", "pwd",
        "token", "secret", "latitude", "longitude", "lat", "lng", "geo",
    }
)  # fmt: skip
# Stems found inside keys written without separators: ``useremail``, ``phonenumber``.
PERSONAL_STEMS = (
    "email", "phone", "firstname", "lastname", "fullname", "surname", "middlename",
    "givenname", "familyname", "username", "nickname", "displayname", "maidenname",
    "birthday", "birthdate", "dateofbirth", "password", "address", "postcode", "postalcode",
    "zipcode", "creditcard", "cardnumber", "socialsecurity",
)  # fmt: skip
# ``name`` is personal alone or with one of these; ``product_name`` or ``campaign_name`` is not.
PERSON_QUALIFIERS = frozenset(
    {
        "first", "last", "full", "given", "family", "middle", "maiden", "user", "display",
        "nick", "real", "legal", "customer", "contact", "person", "member", "sender",
        "recipient", "billing", "shipping", "account", "owner",
    }
)  # fmt: skip
# Parts of a name that are personal as a whole key (``{"first": "Grace", "last": "Hopper"}``).
NAME_PARTS = frozenset({"first", "last", "given", "family", "middle", "full"})
# Keys Sojourn's own attribution sets (``activities/engagement.py``); journeys read them.
SOJOURN_KEYS = frozenset({"email_id", "journey", "step", "topic", "segment", "provider"})

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[a-z]{2,}", re.IGNORECASE)
_PHONE = re.compile(r"\+?[\d\s().\-/]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}$")


def key_words(key: str) -> list[str]:
    """The lower-case words of a key: ``phoneNumber``, ``phone-number``, ``Phone Number``
    all give ``["phone", "number"]``."""
    spaced = _CAMEL.sub(" ", key).lower()
    return [word for word in _SEPARATORS.split(spaced) if word]


# Apps send the same few keys again and again: decide each spelling once.
@lru_cache(maxsize=4096)
def is_personal_key(key: str) -> bool:
    """True when a property key names personal data in any spelling."""
    if key in SOJOURN_KEYS:
        return False
    words = key_words(key)
    if not words:
        return False
    if PERSONAL_WORDS.intersection(words):
        return True
    glued = "".join(words)
    if any(stem in glued for stem in PERSONAL_STEMS):
        return True
    if "name" in words and (len(words) == 1 or PERSON_QUALIFIERS.intersection(words)):
        return True
    return len(words) == 1 and words[0] in NAME_PARTS


def looks_like_phone(text: str) -> bool:
    """True for strings written like phone numbers: ``+33 6 12 34 56 78``, ``(555) 010-9999``,
    ``0612345678``. Dates, plain amounts and short or very long digit runs are not phones."""
    text = text.strip()
    if not _PHONE.fullmatch(text) or _DATE.match(text):
        return False
    digits = sum(c.isdigit() for c in text)
    if not 7 <= digits <= 15:
        return False
    if text.startswith("+") or "(" in text:
        return True
    groups = [g for g in re.split(r"[\s.\-/]+", text) if g]
    if len(groups) >= 3:
        return True  # 06 12 34 56 78, 555-010-9999; a decimal amount has one separator
    # An unseparated run is a phone when it is dialled with a trunk or exit prefix (0…, 00…).
    return len(groups) == 1 and text.startswith("0") and digits >= 9


def is_personal_value(value: Any) -> bool:
    """True for a string holding an email address or reading as a phone number."""
    if not isinstance(value, str):
        return False
    return bool(_EMAIL.search(value)) or looks_like_phone(value)


def strip_personal(value: Any) -> Any:
    """``value`` with personal keys and values removed at every depth (a new object).

    Mappings lose their personal keys and their personal values; lists lose their personal
    items; anything else is returned as it is.
    """
    if isinstance(value, dict):
        return {
            key: strip_personal(item)
            for key, item in value.items()
            if not is_personal_key(str(key)) and not is_personal_value(item)
        }
    if isinstance(value, list | tuple):
        return [strip_personal(item) for item in value if not is_personal_value(item)]
    return value
