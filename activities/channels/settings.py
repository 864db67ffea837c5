"""The channels' settings, declared once and mixed into :class:`worker.settings.Settings`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Audience(BaseModel):
    """An ad audience reached through an outgoing webhook.

    Attributes:
        url: where the add/remove calls go (your ad platform's connector, a Zapier hook...).
        secret: HMAC-SHA256 key of the ``X-Sojourn-Signature`` header.
    """

    url: str
    secret: str = Field(repr=False)


class ChannelFields(BaseModel):
    """SMS (Twilio), web push (VAPID) and ad audiences (webhooks); env prefix ``SOJOURN_``."""

    # ---- SMS ----
    sms_provider: Literal["outbox", "twilio"] = "outbox"
    # National numbers (06 12 34 56 78) are read in the contact's country, else this one.
    sms_default_region: str = "FR"
    twilio_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = Field(default=None, repr=False)
    # One of the two: a sender number (E.164) or a Messaging Service SID (MG...).
    twilio_from: str | None = None
    twilio_messaging_service_sid: str | None = None
    # Check X-Twilio-Signature on inbound webhooks (turn off only behind a proxy that does).
    twilio_verify_signature: bool = True
    # ---- web push ----
    push_provider: Literal["outbox", "webpush"] = "outbox"
    vapid_private_key: str | None = Field(default=None, repr=False)
    vapid_public_key: str | None = None
    vapid_subject: str = "mailto:push@sojourn.test"
    push_ttl_seconds: int = 24 * 3600
    # ---- ad audiences: {"retargeting": {"url": "...", "secret": "..."}} as JSON ----
    audiences: dict[str, Audience] = Field(default_factory=dict)
