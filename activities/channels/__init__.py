"""Channels beside email: SMS, web push (and ad audiences, in ``activities/audiences.py``).

:class:`ChannelSet` is what the send activities ask about a message's channel: who the
recipient is (an E.164 number, the contact's push subscriptions), how to render it (the
``.sms.j2`` / ``.push.j2`` variant) and which provider takes it. Everything else (the ledger,
consent per topic and channel, suppression, caps, quiet hours, exactly-once, unknown outcomes)
is the email path's, unchanged: ``activities/sending.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.exceptions import ApplicationError

from activities.channels.phones import InvalidPhone, to_e164
from activities.channels.render import render_text
from activities.channels.sms_segments import sms_length
from activities.links import Links
from activities.models import PrepareMessage
from activities.personalise import template_context
from activities.policy import MessagingPolicy
from activities.providers.base import Provider
from activities.rendering import Renderer, TemplateError
from store import Store
from store._sql import now
from store.consent import CHANNELS
from store.records import ContactRecord, MessageRecord

EMAIL, SMS, PUSH = CHANNELS


@dataclass(frozen=True)
class Recipient:
    """Where a message of a channel goes, or why it cannot go (a refusal reason)."""

    address: str | None
    problem: str | None = None


class ChannelSet:
    """The non-email channels' recipients, rendering and providers.

    Args:
        store: the contact store (push subscriptions).
        providers: the provider of each channel (``sms``, ``push``); email's is the send
            activities' own.
        default_region: the country national phone numbers are read in.
    """

    def __init__(
        self,
        store: Store | None = None,
        providers: dict[str, Provider] | None = None,
        default_region: str = "FR",
    ) -> None:
        self.store = store
        self.providers = dict(providers or {})
        self.default_region = default_region

    def provider(self, channel: str) -> Provider | None:
        """The provider of ``channel``; None for email (the send activities' own)."""
        if channel == EMAIL:
            return None
        if channel not in self.providers:
            raise ValueError(f"no provider configured for channel {channel!r}")
        return self.providers[channel]

    async def recipient(self, channel: str, contact: ContactRecord | None) -> Recipient:
        """The address of ``contact`` on ``channel``, normalised; or the refusal reason."""
        if contact is None:
            return Recipient(None)
        if channel == EMAIL:
            return Recipient(contact.email)
        if channel == SMS:
            if not contact.phone:
                return Recipient(None)
            try:
                return Recipient(to_e164(contact.phone, contact.country or self.default_region))
            except InvalidPhone as exc:
                # The trait, never the number: reasons reach Temporal's history.
                return Recipient(None, f"invalid_phone: {exc}")
        if channel == PUSH:
            assert self.store is not None, "push needs the store (subscriptions)"
            subscriptions = await self.store.push.of(contact.id)
            return Recipient(f"push:{len(subscriptions)}" if subscriptions else None)
        raise ValueError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")

    def render_into(
        self,
        renderer: Renderer,
        policy: MessagingPolicy,
        links: Links,
        record: MessageRecord,
        contact: ContactRecord,
        request: PrepareMessage,
        address: str,
    ) -> str:
        """Render the channel variant into ``record``; returns the locale it was written in."""
        marketing = policy.is_marketing(request.topic)
        preferences = links.unsubscribe_url(record.message_id) if marketing else ""
        context = template_context(
            contact,
            data=request.data,
            journey=request.journey,
            message_id=record.message_id,
            site_url=policy.site_url,
            # SMS opt-out is a STOP reply; the preference link is there for templates that want it.
            unsubscribe_url=preferences,
            preferences_url=preferences,
            default_timezone=policy.default_timezone,
            default_locale=policy.default_locale,
            now=now(),
        )
        try:
            rendered = render_text(renderer, request.template, request.channel, context, None)
        except TemplateError as exc:
            # As for email: a typo will not fix itself, and nothing half-rendered is stored.
            raise ApplicationError(str(exc), type="TemplateError", non_retryable=True) from exc
        record.channel = request.channel
        record.to_address = address
        record.text = rendered.body
        record.subject = rendered.title or None
        record.headers = {
            "X-Sojourn-Message-Id": record.message_id,
            "X-Sojourn-Journey": request.journey,
            "X-Sojourn-Step": request.step,
            "X-Sojourn-Idempotency-Key": request.key,
            "X-Sojourn-Topic": request.topic,
        }
        if request.channel == SMS:
            length = sms_length(rendered.body)
            record.headers["X-Sojourn-Segments"] = str(length.segments)
            record.headers["X-Sojourn-Encoding"] = length.encoding
        else:
            record.headers["X-Sojourn-Url"] = rendered.url or policy.site_url
        return rendered.locale
