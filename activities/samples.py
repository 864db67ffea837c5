"""The sample contact and data every template preview and check renders with (``samples.json``).

Shared by the email check (``activities/template_check.py``) and the SMS/push one
(``activities/channels/template_check.py``), so both render exactly as a send would.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.personalise import FIRST_NAME_FALLBACK, template_context
from store.records import ContactRecord

SAMPLE_URL = "https://sojourn.test"


def load_samples(root: Path) -> dict[str, Any]:
    """Sample contact (key ``_contact``) and per-template data from ``samples.json``."""
    path = root / "samples.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def sample_contact(samples: dict[str, Any], locale: str | None = None) -> ContactRecord:
    """The sample contact, optionally speaking ``locale``."""
    at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    fields = {"id": "sample", "first_name": "Camille", **samples.get("_contact", {})}
    if locale:
        fields["locale"] = locale
    return ContactRecord(created_at=at, updated_at=at, **fields)


def sample_contacts(samples: dict[str, Any], locale: str) -> list[ContactRecord]:
    """The sample contact speaking ``locale``, then the same contact without a first name."""
    named = sample_contact(samples, locale)
    return [named, named.model_copy(update={"first_name": None})]


def misaddressed(text: str, locale: str) -> str | None:
    """The line of ``text`` (rendered for a contact without a first name) that addresses
    the contact by the greeting fallback: "there, you left…", "Welcome, there!"; or None.

    The fallback reads well after "Hi"/"Bonjour" only; a sentence that starts or ends with
    the name is written with ``| addressed`` or ``name_suffix`` instead.
    """
    fallback = FIRST_NAME_FALLBACK.get(locale.split("-")[0], "")
    if not fallback:
        return None
    word = re.escape(fallback)
    found = re.search(rf"(?:^|[.!?:]\s+|\n\s*){word},|,\s+{word}\s*(?:[.!?:]|$)", text, re.M)
    if found is None:
        return None
    line = text[: found.end()].rsplit("\n", 1)[-1] + text[found.end() :].split("\n", 1)[0]
    return line.strip()


def sample_context(template: str, contact: ContactRecord, data: dict[str, Any]) -> dict[str, Any]:
    """What ``template`` sees when rendered for ``contact`` with ``data`` (links included)."""
    return template_context(
        contact,
        data=data,
        journey=template.split("/")[0],
        message_id="preview",
        site_url=SAMPLE_URL,
        unsubscribe_url=f"{SAMPLE_URL}/u/preview",
        preferences_url=f"{SAMPLE_URL}/u/preview",
        survey_url=f"{SAMPLE_URL}/s/preview",
        now=datetime.now(UTC),
    )
