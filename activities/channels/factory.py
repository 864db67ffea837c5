"""The channels' providers from the settings."""

from __future__ import annotations

from typing import Any

import httpx

from activities.channels import PUSH, SMS, ChannelSet
from activities.providers.base import Provider
from activities.providers.channel_outbox import ChannelOutboxProvider
from activities.providers.twilio import TwilioProvider
from activities.providers.webpush import WebPushProvider
from store import Store


def _required(settings: Any, name: str, why: str) -> str:
    value = getattr(settings, name)
    if not value:
        raise ValueError(f"SOJOURN_{name.upper()} is required with {why}")
    return str(value)


def make_channels(
    settings: Any, store: Store, client: httpx.AsyncClient | None = None
) -> ChannelSet:
    """The :class:`ChannelSet` ``settings`` (:class:`worker.settings.Settings`) describe."""
    providers: dict[str, Provider] = {}
    if settings.sms_provider == "twilio":
        client = client or httpx.AsyncClient(timeout=settings.provider_timeout_seconds)
        why = "SOJOURN_SMS_PROVIDER=twilio"
        providers[SMS] = TwilioProvider(
            client,
            _required(settings, "twilio_account_sid", why),
            _required(settings, "twilio_auth_token", why),
            sender=settings.twilio_from,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            status_callback=f"{settings.public_base_url}/webhooks/twilio/status",
            base_url=settings.twilio_url,
        )
    else:
        providers[SMS] = ChannelOutboxProvider(settings.outbox_path, SMS)
    if settings.push_provider == "webpush":
        client = client or httpx.AsyncClient(timeout=settings.provider_timeout_seconds)
        providers[PUSH] = WebPushProvider(
            client,
            store,
            _required(settings, "vapid_private_key", "SOJOURN_PUSH_PROVIDER=webpush"),
            subject=settings.vapid_subject,
            ttl=settings.push_ttl_seconds,
        )
    else:
        providers[PUSH] = ChannelOutboxProvider(settings.outbox_path, PUSH)
    for provider in providers.values():
        if not provider.idempotent:
            provider.resend_unknown = provider.name in settings.resend_unknown
    return ChannelSet(store, providers, default_region=settings.sms_default_region)
