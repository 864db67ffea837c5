"""What templates see: the contact, computed fields, the journey's data, links.

Built in the activity, never in the workflow: the profile is personal data and stays out of
Temporal's history. Templates read ``first_name`` (with a fallback in the contact's language,
which reads well after a greeting only: "Hi there", "Bonjour à vous"), ``name_prefix`` and
``name_suffix`` (``"Ada, "`` and ``", Ada"``, empty without a first name: ``Welcome{{
name_suffix }}!``; a sentence that starts with the name is written ``{{ "your cart is waiting"
| addressed }}``, see :mod:`activities.template_filters`), ``contact`` (profile without the
address), ``traits``, ``data`` (what the journey passed, e.g. the products of the triggering
order), ``recommendations`` and the links of the footer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store.records import ContactRecord

FIRST_NAME_FALLBACK = {"en": "there", "fr": "à vous"}


def template_context(
    contact: ContactRecord,
    *,
    data: dict[str, Any] | None = None,
    journey: str = "",
    message_id: str = "",
    site_url: str = "",
    unsubscribe_url: str = "",
    preferences_url: str = "",
    survey_url: str = "",
    default_timezone: str = "UTC",
    default_locale: str = "en",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The render context of one message to ``contact``.

    Args:
        contact: the recipient's profile.
        data: the journey's data for this send; ``data['recommendations']`` is also exposed
            as ``recommendations``.
        journey: the journey's name.
        message_id: the message's public id.
        site_url: base URL of the shop, for buttons.
        unsubscribe_url: the signed one-click link (empty for transactional messages).
        preferences_url: the signed preference-centre link (empty for transactional).
        survey_url: the base of the message's signed one-click survey links.
        default_timezone: for contacts without a timezone.
        default_locale: for contacts without a locale.
        now: the moment of sending, for computed fields.
    """
    data = dict(data or {})
    locale = contact.locale or default_locale
    language = locale.replace("_", "-").split("-")[0].lower()
    profile = contact.model_dump(mode="json", exclude={"email", "phone", "created_at"})
    name = (contact.first_name or "").strip()
    full_name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    computed: dict[str, Any] = {"full_name": full_name}
    if now is not None:
        computed["days_since_signup"] = max(0, (now - contact.created_at).days)
    return {
        "contact": {**profile, **computed},
        "traits": contact.traits,
        "first_name": name or FIRST_NAME_FALLBACK.get(language, ""),
        "name_prefix": f"{name}, " if name else "",
        "name_suffix": f", {name}" if name else "",
        "data": data,
        "recommendations": data.get("recommendations", []),
        "journey": journey,
        "message_id": message_id,
        "locale": locale,
        "timezone": contact.timezone or default_timezone,
        "site_url": site_url.rstrip("/"),
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        "survey_url": survey_url,
    }
