"""The send activities: prepare (consent, render, ledger) and deliver (the provider call).

Rendered content never returns to the workflow: it stays in the store, so no personal data
(address, name, body) lands in Temporal's history. The workflow only sees ids and statuses.
"""

from __future__ import annotations

import uuid
from email.utils import formatdate, make_msgid
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.models import (
    DELIVER_MESSAGE,
    PREPARE_MESSAGE,
    DeliverMessage,
    Delivery,
    PreparedMessage,
    PrepareMessage,
)
from activities.providers import Provider, ProviderError
from activities.rendering import Renderer, TemplateError
from store import Store
from store._sql import now
from store.records import ContactRecord, MessageRecord

log = structlog.get_logger(__name__)

FIRST_NAME_FALLBACK = "there"


def template_context(
    contact: ContactRecord, request: PrepareMessage, message_id: str
) -> dict[str, Any]:
    """What templates see: the contact, a first name with a fallback, the journey's data."""
    return {
        "contact": contact.model_dump(),
        "traits": contact.traits,
        "first_name": contact.first_name or FIRST_NAME_FALLBACK,
        "data": request.data,
        "journey": request.journey,
        "message_id": message_id,
    }


class SendActivities:
    """Activities that send messages; store, renderer and provider are injected once.

    Args:
        store: the contact store (ledger, profiles, consent).
        renderer: the Jinja renderer.
        provider: where delivered messages go.
        mail_from: the ``From`` header.
    """

    def __init__(
        self, store: Store, renderer: Renderer, provider: Provider, mail_from: str
    ) -> None:
        self.store = store
        self.renderer = renderer
        self.provider = provider
        self.mail_from = mail_from

    @activity.defn(name=PREPARE_MESSAGE)
    async def prepare_message(self, request: PrepareMessage) -> PreparedMessage:
        """Check consent, render and write the message to the ledger (idempotent on key)."""
        existing = await self.store.messages.get(request.key)
        if existing is not None:
            return _prepared(existing)
        message_id = uuid.uuid4().hex
        contact = await self.store.contacts.get(request.contact_id)
        reason = None
        if contact is None or not contact.email:
            reason = "no_email"
        elif not await self.store.consent.allowed(request.contact_id, request.topic):
            reason = "unsubscribed"
        record = MessageRecord(
            key=request.key,
            message_id=message_id,
            contact_id=request.contact_id,
            journey=request.journey,
            step=request.step,
            template=request.template,
            topic=request.topic,
            status="refused" if reason else "prepared",
            reason=reason,
            created_at=now(),
        )
        if contact is not None and reason is None:
            try:
                rendered = self.renderer.render(
                    request.template, template_context(contact, request, message_id)
                )
            except TemplateError as exc:
                # Non-retryable: a typo will not fix itself; the Web UI shows this message.
                raise ApplicationError(str(exc), type="TemplateError", non_retryable=True) from exc
            record.to_address = contact.email
            record.subject = rendered.subject
            record.html = rendered.html
            record.text = rendered.text
            record.headers = {
                "From": self.mail_from,
                "To": contact.email or "",
                "Subject": rendered.subject,
                "Date": formatdate(localtime=False),
                "Message-ID": make_msgid(idstring=message_id, domain="sojourn.local"),
                "X-Sojourn-Message-Id": message_id,
                "X-Sojourn-Journey": request.journey,
                "X-Sojourn-Step": request.step,
                "X-Sojourn-Idempotency-Key": request.key,
            }
        stored = await self.store.messages.prepare(record)
        log.info(
            "message prepared",
            contact_id=request.contact_id,
            message_id=stored.message_id,
            status=stored.status,
            reason=stored.reason,
        )
        return _prepared(stored)

    @activity.defn(name=DELIVER_MESSAGE)
    async def deliver_message(self, request: DeliverMessage) -> Delivery:
        """Hand a prepared message to the provider, exactly once per idempotency key."""
        message = await self.store.messages.get(request.key)
        if message is None:
            raise ApplicationError(f"no prepared message for key {request.key}", non_retryable=True)
        if message.status != "prepared":
            return Delivery(
                message_id=message.message_id, status=message.status, reason=message.reason
            )
        # Consent is checked again at the moment of sending, not only when the step began.
        if not await self.store.consent.allowed(message.contact_id, message.topic):
            await self.store.messages.mark(request.key, "refused", reason="unsubscribed")
            return Delivery(message_id=message.message_id, status="refused", reason="unsubscribed")
        try:
            provider_id = await self.provider.send(message)
        except ProviderError as exc:
            raise ApplicationError(
                str(exc), type="ProviderError", non_retryable=not exc.retryable
            ) from exc
        await self.store.messages.mark(
            request.key, "sent", at=now(), provider=self.provider.name, provider_id=provider_id
        )
        log.info("message sent", contact_id=message.contact_id, message_id=message.message_id)
        return Delivery(message_id=message.message_id, status="sent", provider_id=provider_id)


def _prepared(message: MessageRecord) -> PreparedMessage:
    status = "refused" if message.status == "refused" else "prepared"
    return PreparedMessage(
        key=message.key, message_id=message.message_id, status=status, reason=message.reason
    )
