"""Double opt-in: the confirmation email with its signed link.

A pending request is a ``pending`` row in the consent ledger; the email is a transactional
message in the send ledger (key ``optin/<ledger id>``, so a repeated request never mails
twice) that goes straight to the provider: there is no journey to run it.
"""

from __future__ import annotations

import uuid
from email.utils import formatdate, make_msgid

from activities.links import Links
from activities.personalise import template_context
from activities.policy import TRANSACTIONAL, MessagingPolicy
from activities.providers import Provider
from activities.rendering import Renderer
from store import Store
from store._sql import now
from store.records import MessageRecord
from store.suppression import SuppressionRepo

TEMPLATE = "consent/confirm"


class OptInMailer:
    """Sends the confirmation email of a double opt-in.

    Args:
        store: the contact store.
        renderer: the template renderer.
        provider: the email provider.
        mail_from: the ``From`` header.
        policy: links and topics.
    """

    def __init__(
        self,
        store: Store,
        renderer: Renderer,
        provider: Provider,
        mail_from: str,
        policy: MessagingPolicy,
    ) -> None:
        self.store = store
        self.renderer = renderer
        self.provider = provider
        self.mail_from = mail_from
        self.policy = policy
        self.links = Links(policy)

    async def send(self, contact_id: str, topic: str, ledger_id: int) -> str | None:
        """Mail the confirmation link; returns the message id (None: no address/suppressed)."""
        key = f"optin/{ledger_id}"
        existing = await self.store.messages.get(key)
        if existing is not None:
            return existing.message_id
        contact = await self.store.contacts.get(contact_id)
        if contact is None or not contact.email:
            return None
        if await SuppressionRepo(self.store.engine).is_suppressed(contact.email):
            return None
        message_id = uuid.uuid4().hex
        known = self.policy.topics.get(topic)
        language = (contact.locale or self.policy.default_locale).split("-")[0].split("_")[0]
        data = {
            "topic": topic,
            "topic_label": known.label(language) if known else topic,
            "confirm_url": self.links.optin_url(contact_id, topic, ledger_id),
        }
        context = template_context(
            contact,
            data=data,
            journey="consent",
            message_id=message_id,
            site_url=self.policy.site_url,
            default_timezone=self.policy.default_timezone,
            default_locale=self.policy.default_locale,
        )
        rendered = self.renderer.render(TEMPLATE, context)
        record = MessageRecord(
            key=key,
            message_id=message_id,
            contact_id=contact_id,
            journey="consent",
            step=f"optin-{topic}",
            template=TEMPLATE,
            topic=TRANSACTIONAL,
            to_address=contact.email,
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            headers={
                "From": self.mail_from,
                "To": contact.email,
                "Subject": rendered.subject,
                "Date": formatdate(localtime=False),
                "Message-ID": make_msgid(idstring=message_id, domain="sojourn.local"),
                "X-Sojourn-Message-Id": message_id,
                "X-Sojourn-Idempotency-Key": key,
            },
            status="prepared",
            created_at=now(),
        )
        stored = await self.store.messages.prepare(record, locale=rendered.locale)
        if await self.store.messages.claim(key):
            provider_id = await self.provider.send(stored)
            await self.store.messages.mark(
                key, "sent", at=now(), provider=self.provider.name, provider_id=provider_id
            )
        return stored.message_id
