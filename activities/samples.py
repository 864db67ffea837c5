"""The sample contact and data every template preview and check renders with (``samples.json``).

Shared by the email check (``activities/template_check.py``) and the SMS/push one
(``activities/channels/template_check.py``), so both render exactly as a send would.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.personalise import template_context
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
