"""Choosing the provider from the settings."""

from __future__ import annotations

from typing import Any

import httpx

from activities.providers.base import Provider
from activities.providers.mailgun import MailgunProvider
from activities.providers.outbox import OutboxProvider
from activities.providers.postmark import PostmarkProvider
from activities.providers.sendgrid import SendGridProvider
from activities.providers.smtp import SmtpProvider


def _required(settings: Any, name: str) -> str:
    value = getattr(settings, name)
    if not value:
        raise ValueError(f"SOJOURN_{name.upper()} is required with provider {settings.provider}")
    return str(value)


def make_provider(settings: Any, client: httpx.AsyncClient | None = None) -> Provider:
    """The provider ``settings.provider`` names.

    Args:
        settings: :class:`worker.settings.Settings`.
        client: the worker's shared ``httpx.AsyncClient`` (created when not given; the HTTP
            providers all share it).
    """
    provider = _make(settings, client)
    if not provider.idempotent:
        provider.resend_unknown = settings.provider in settings.resend_unknown
    return provider


def _make(settings: Any, client: httpx.AsyncClient | None) -> Provider:
    kind = settings.provider
    if kind == "outbox":
        return OutboxProvider(settings.outbox_path)
    if kind == "smtp":
        return SmtpProvider(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            security=settings.smtp_security,
            timeout=settings.provider_timeout_seconds,
        )
    client = client or httpx.AsyncClient(timeout=settings.provider_timeout_seconds)
    if kind == "postmark":
        return PostmarkProvider(
            client,
            _required(settings, "postmark_token"),
            base_url=settings.postmark_url,
            marketing_stream=settings.postmark_stream_marketing,
            transactional_stream=settings.postmark_stream_transactional,
        )
    if kind == "sendgrid":
        return SendGridProvider(
            client, _required(settings, "sendgrid_api_key"), base_url=settings.sendgrid_url
        )
    if kind == "mailgun":
        return MailgunProvider(
            client,
            _required(settings, "mailgun_api_key"),
            _required(settings, "mailgun_domain"),
            base_url=settings.mailgun_url,
        )
    raise ValueError(f"unknown provider {kind!r}")
