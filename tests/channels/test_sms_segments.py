"""SMS length in segments: GSM-7 (160/153) and UCS-2 (70/67), extension characters count two."""

from __future__ import annotations

import pytest

from activities.channels.phones import InvalidPhone, to_e164
from activities.channels.sms_segments import sms_length


@pytest.mark.parametrize(
    "text, encoding, units, segments",
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension table: two septets each
        ("€" * 81, "GSM-7", 162, 2),
        ("Votre panier à 12 € vous attend", "GSM-7", 32, 1),
        ("é" * 70 + "«", "UCS-2", 71, 2),
        ("a" * 69 + "😀", "UCS-2", 71, 2),  # outside the BMP: two UTF-16 units
        ("ç" * 70, "UCS-2", 70, 1),
        ("ç" * 134, "UCS-2", 134, 2),
        ("ç" * 135, "UCS-2", 135, 3),
    ],
)
def test_segments(text: str, encoding: str, units: int, segments: int) -> None:
    length = sms_length(text)
    assert (length.encoding, length.units, length.segments) == (encoding, units, segments)


def test_builtin_sms_templates_fit_one_gsm_segment() -> None:
    from activities.channels.template_check import sample_text
    from activities.rendering import Renderer
    from activities.template_check import load_samples, sample_contact

    renderer = Renderer()
    samples = load_samples(renderer.root)
    for locale in ("en", "fr"):
        text = sample_text(
            renderer, "cart_escalation/reminder", "sms", sample_contact(samples, locale), {}
        )
        assert sms_length(text.body).encoding == "GSM-7", text.body


@pytest.mark.parametrize(
    "raw, region, e164",
    [
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+33 6 12 34 56 78", None, "+33612345678"),
        ("(212) 555-0123", "US", "+12125550123"),
        ("0033612345678", "FR", "+33612345678"),
    ],
)
def test_e164(raw: str, region: str | None, e164: str) -> None:
    assert to_e164(raw, region) == e164


@pytest.mark.parametrize("raw", ["12", "not a number", "+33 1", "06 12"])
def test_invalid_numbers_name_the_trait(raw: str) -> None:
    with pytest.raises(InvalidPhone) as info:
        to_e164(raw, "FR", trait="mobile")
    assert "trait 'mobile'" in str(info.value)
