"""Double opt-in: preparing the confirmation email with its signed link.

A pending request is a ``pending`` row in the consent ledger. The gateway records it with an
``Opt-in Requested`` event, and the ``consent_confirmation`` journey (``workflows/optin.py``)
sends the email like every other message: this activity renders it into the send ledger (key
``optin/<ledger id>``, so a repeated request never mails twice) and ``deliver_message`` hands
it to the provider, durable, retried and exactly once, visible in the Web UI.
"""

from __future__ import annotations

import uuid
from email.utils import formatdate, make_msgid

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.links import Links
from activities.models import PreparedMessage
from activities.optin_models import PREPARE_OPTIN, PrepareOptIn, optin_key
from activities.personalise import template_context
from activities.policy import TRANSACTIONAL, MessagingPolicy
from activities.rendering import Renderer, TemplateError
from store import Store
from store._sql import now
from store.consent import PENDING
from store.records import ContactRecord, MessageRecord
from store.suppression import SuppressionRepo

TEMPLATE = "consent/confirm"


class OptInActivities:
    """Prepares double opt-in confirmations; the store, renderer and policy are injected once.

    Args:
        store: the contact store.
        renderer: the template renderer.
        mail_from: the ``From`` header.
        policy: links and topics.
    """

    def __init__(
        self, store: Store, renderer: Renderer, mail_from: str, policy: MessagingPolicy
    ) -> None:
        self.store = store
        self.renderer = renderer
        self.mail_from = mail_from
        self.policy = policy
        self.links = Links(policy)

    @activity.defn(name=PREPARE_OPTIN)
    async def prepare(self, request: PrepareOptIn) -> PreparedMessage:
        """Render the confirmation into the send ledger; ``refused`` when it must not go.

        Refused (and recorded, so it shows wherever sends are counted): no such contact or no
        address, a suppressed address, or a request no longer pending (confirmed, withdrawn,
        or replaced by a newer one: only the newest link may confirm).
        """
        key = optin_key(request.ledger_id)
        existing = await self.store.messages.get(key)
        if existing is not None:
            # Sent, in flight or prepared: deliver_message knows the rest, idempotently.
            status = existing.status if existing.status in ("refused", "skipped") else "prepared"
            return PreparedMessage(
                key=key, message_id=existing.message_id, status=status, reason=existing.reason
            )
        record = MessageRecord(
            key=key,
            message_id=uuid.uuid4().hex,
            contact_id=request.contact_id,
            journey="consent",
            step=f"optin-{request.topic}",
            template=TEMPLATE,
            topic=TRANSACTIONAL,
            status="prepared",
            created_at=now(),
        )
        contact = await self.store.contacts.get(request.contact_id)
        reason = await self._refusal(contact, request)
        locale = None
        if reason is not None:
            record.status, record.reason = "refused", reason
        else:
            assert contact is not None
            locale = self._render_into(record, contact, request)
        stored = await self.store.messages.prepare(record, locale=locale)
        return PreparedMessage(
            key=key, message_id=stored.message_id, status=stored.status, reason=stored.reason
        )

    async def _refusal(self, contact: ContactRecord | None, request: PrepareOptIn) -> str | None:
        if contact is None or not contact.email:
            return "no_address"
        if await SuppressionRepo(self.store.engine).is_suppressed(contact.email):
            return "suppressed"
        state = (await self.store.consent.state(request.contact_id)).get(request.topic)
        if state != (PENDING, request.ledger_id):
            return "not_pending"
        return None

    def _render_into(
        self, record: MessageRecord, contact: ContactRecord, request: PrepareOptIn
    ) -> str:
        known = self.policy.topics.get(request.topic)
        language = (contact.locale or self.policy.default_locale).split("-")[0].split("_")[0]
        data = {
            "topic": request.topic,
            "topic_label": known.label(language) if known else request.topic,
            "confirm_url": self.links.optin_url(
                request.contact_id, request.topic, request.ledger_id
            ),
        }
        context = template_context(
            contact,
            data=data,
            journey="consent",
            message_id=record.message_id,
            site_url=self.policy.site_url,
            default_timezone=self.policy.default_timezone,
            default_locale=self.policy.default_locale,
        )
        try:
            rendered = self.renderer.render(TEMPLATE, context)
        except TemplateError as exc:
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
            "Message-ID": make_msgid(idstring=record.message_id, domain="sojourn.local"),
            "X-Sojourn-Message-Id": record.message_id,
            "X-Sojourn-Idempotency-Key": record.key,
        }
        return rendered.locale
