"""How many SMS segments a text costs: GSM-7 (160 a message, 153 a part) or UCS-2 (70/67).

One character outside the GSM 03.38 alphabet (an emoji, a curly quote, « ») switches the whole
message to UCS-2, which more than halves what a segment holds; characters of the extension
table (``€ [ ] { } | ^ ~ \\``) cost two septets. Operators bill per segment.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsLength:
    """Encoding, length in that encoding's units, and segments."""

    encoding: str
    units: int
    segments: int

    def __str__(self) -> str:
        plural = "s" if self.segments != 1 else ""
        return f"{self.segments} segment{plural} ({self.encoding}, {self.units} units)"


def sms_length(text: str) -> SmsLength:
    """The segments ``text`` takes."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        units = sum(2 if c in GSM_EXTENDED else 1 for c in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        # UTF-16 code units: an emoji outside the BMP takes two.
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    if units <= single:
        return SmsLength(encoding, units, 1 if units else 0)
    return SmsLength(encoding, units, -(-units // part))
