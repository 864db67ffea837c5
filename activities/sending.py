"""The send activities: prepare (gates, render, ledger) and deliver (the provider call).

Rendered content never returns to the workflow: it stays in the store, so no personal data
(address, name, body) lands in Temporal's history. The workflow only sees ids and statuses,
and, for a deferred send, the moment to try again.

Exactly once: ``deliver_message`` claims the ledger row (``prepared`` → ``sending``) before
the provider call and marks it ``sent`` after. A retry that finds a row still ``sending``
knows an earlier attempt may have reached the provider: an idempotent provider (outbox) is
simply called again; any other is *not* (the message is marked ``sent``, reason
``unconfirmed``), because a lost marketing email is better than a duplicate.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from email.utils import formatdate, make_msgid

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.gatekeeper import Gatekeeper, Verdict
from activities.links import Links
from activities.models import (
    DELIVER_MESSAGE,
    PREPARE_MESSAGE,
    DeliverMessage,
    Delivery,
    PreparedMessage,
    PrepareMessage,
)
from activities.personalise import template_context
from activities.policy import MessagingPolicy
from activities.providers import Provider, ProviderError
from activities.rendering import Renderer, TemplateError
from store import Store
from store._sql import now
from store.records import ContactRecord, MessageRecord

log = structlog.get_logger(__name__)

FINAL = ("sent", "refused", "skipped", "failed")
# Without an explicit policy nothing is held back: the worker's wiring passes the settings'.
PERMISSIVE = MessagingPolicy(quiet_hours=False, frequency_caps=[])


def _moment(at: datetime | None) -> datetime:
    # The later of the journey's clock and the wall clock (see PrepareMessage.at).
    current = now()
    return max(current, at) if at is not None else current


class SendActivities:
    """Activities that send messages; store, renderer, provider and policy are injected once.

    Args:
        store: the contact store (ledger, profiles, consent).
        renderer: the Jinja renderer.
        provider: where delivered messages go.
        mail_from: the ``From`` header.
        policy: topics, links, caps and quiet hours (default: none held back).
    """

    def __init__(
        self,
        store: Store,
        renderer: Renderer,
        provider: Provider,
        mail_from: str,
        policy: MessagingPolicy | None = None,
    ) -> None:
        self.store = store
        self.renderer = renderer
        self.provider = provider
        self.mail_from = mail_from
        self.policy = policy or PERMISSIVE
        self.links = Links(self.policy)
        self.gates = Gatekeeper(store, self.policy)

    # ---- prepare ------------------------------------------------------------------------

    @activity.defn(name=PREPARE_MESSAGE)
    async def prepare_message(self, request: PrepareMessage) -> PreparedMessage:
        """Check the gates, render and write the message to the ledger (idempotent on key)."""
        at = _moment(request.at)
        existing = await self.store.messages.get(request.key)
        if existing is not None and existing.status != "prepared":
            return _prepared(existing)
        contact = await self.store.contacts.get(request.contact_id)
        verdict = None
        if existing is None:
            existing = await self._create(request, contact)
            if existing.status != "prepared":
                return _prepared(existing)
        else:
            verdict = await self.gates.refusal(
                request.contact_id, contact.email if contact else None, request.topic
            )
        if verdict is not None:
            await self.store.messages.mark(request.key, "refused", reason=verdict.reason)
            return _prepared(existing, "refused", verdict.reason)
        # Cheap early answers; the cap is claimed atomically only by deliver_message.
        verdict = await self.gates.quiet(contact.timezone if contact else None, request.topic, at)
        if verdict is None:
            cap = await self.gates.peek_cap(request.contact_id, request.topic, at)
            if cap is not None:
                verdict = (
                    Verdict("skip", "frequency_cap")
                    if request.on_cap == "skip"
                    else Verdict("defer", "frequency_cap", cap)
                )
        if verdict is not None:
            return await self._hold(existing, verdict, prepared=True)  # type: ignore[return-value]
        return _prepared(existing)

    async def _create(
        self, request: PrepareMessage, contact: ContactRecord | None
    ) -> MessageRecord:
        message_id = uuid.uuid4().hex
        verdict = await self.gates.refusal(
            request.contact_id, contact.email if contact else None, request.topic
        )
        record = MessageRecord(
            key=request.key,
            message_id=message_id,
            contact_id=request.contact_id,
            journey=request.journey,
            step=request.step,
            template=request.template,
            topic=request.topic,
            status="refused" if verdict else "prepared",
            reason=verdict.reason if verdict else None,
            created_at=now(),
        )
        locale = None
        if contact is not None and verdict is None:
            locale = self._render_into(record, contact, request)
        stored = await self.store.messages.prepare(record, locale=locale)
        log.info(
            "message prepared",
            contact_id=request.contact_id,
            message_id=stored.message_id,
            status=stored.status,
            reason=stored.reason,
        )
        return stored

    def _render_into(
        self, record: MessageRecord, contact: ContactRecord, request: PrepareMessage
    ) -> str:
        marketing = self.policy.is_marketing(request.topic)
        unsubscribe = self.links.unsubscribe_url(record.message_id) if marketing else ""
        context = template_context(
            contact,
            data=request.data,
            journey=request.journey,
            message_id=record.message_id,
            site_url=self.policy.site_url,
            unsubscribe_url=unsubscribe,
            preferences_url=unsubscribe,
            default_timezone=self.policy.default_timezone,
            default_locale=self.policy.default_locale,
            now=now(),
        )
        try:
            rendered = self.renderer.render(request.template, context)
        except TemplateError as exc:
            # Non-retryable: a typo will not fix itself; the Web UI shows this message.
            # Nothing was stored, so nothing half-rendered can ever be delivered.
            raise ApplicationError(str(exc), type="TemplateError", non_retryable=True) from exc
        record.to_address = contact.email
        record.subject = rendered.subject
        record.html = self.links.track(
            rendered.html, record.message_id, skip=(unsubscribe,) if unsubscribe else ()
        )
        record.text = rendered.text
        record.headers = {
            "From": self.mail_from,
            "To": contact.email or "",
            "Subject": rendered.subject,
            "Date": formatdate(localtime=False),
            "Message-ID": make_msgid(idstring=record.message_id, domain="sojourn.local"),
            "X-Sojourn-Message-Id": record.message_id,
            "X-Sojourn-Journey": request.journey,
            "X-Sojourn-Step": request.step,
            "X-Sojourn-Idempotency-Key": request.key,
            "X-Sojourn-Topic": request.topic,
        }
        if marketing:
            record.headers.update(self.links.list_unsubscribe_headers(record.message_id))
        return rendered.locale

    async def _hold(
        self, message: MessageRecord, verdict: Verdict, *, prepared: bool
    ) -> PreparedMessage | Delivery:
        """Record a deferral or a skip; the workflow sleeps on a durable timer or moves on."""
        if verdict.action == "skip":
            await self.store.messages.mark(message.key, "skipped", reason=verdict.reason)
            status, not_before = "skipped", None
        else:
            assert verdict.not_before is not None
            await self.store.messages.defer(message.key, verdict.not_before, verdict.reason or "")
            status, not_before = "deferred", verdict.not_before
        log.info(
            "message held",
            contact_id=message.contact_id,
            message_id=message.message_id,
            status=status,
            reason=verdict.reason,
        )
        if prepared:
            return PreparedMessage(
                key=message.key,
                message_id=message.message_id,
                status=status,
                reason=verdict.reason,
                not_before=not_before,
            )
        return Delivery(
            message_id=message.message_id,
            status=status,
            reason=verdict.reason,
            not_before=not_before,
        )

    # ---- deliver ------------------------------------------------------------------------

    @activity.defn(name=DELIVER_MESSAGE)
    async def deliver_message(self, request: DeliverMessage) -> Delivery:
        """Hand a prepared message to the provider, exactly once per idempotency key."""
        message = await self.store.messages.get(request.key)
        if message is None:
            raise ApplicationError(f"no prepared message for key {request.key}", non_retryable=True)
        if message.status in FINAL:
            return _delivery(message)
        if message.status == "sending":
            return await self._resume(message)
        contact = await self.store.contacts.get(message.contact_id)
        timezone = contact.timezone if contact else None
        # Every gate again at the moment of sending, not only when the step began.
        verdict = await self.gates.refusal(message.contact_id, message.to_address, message.topic)
        if verdict is not None:
            await self.store.messages.mark(request.key, "refused", reason=verdict.reason)
            return Delivery(message_id=message.message_id, status="refused", reason=verdict.reason)
        at = _moment(request.at)
        verdict = await self.gates.quiet(timezone, message.topic, at)
        verdict = verdict or await self.gates.claim_cap(message, at, request.on_cap)
        if verdict is not None:
            return await self._hold(message, verdict, prepared=False)  # type: ignore[return-value]
        if not await self.store.messages.claim(request.key):
            # Another attempt moved it on between our read and our claim.
            current = await self.store.messages.get(request.key)
            assert current is not None
            return _delivery(current) if current.status in FINAL else await self._resume(current)
        return await self._send(message)

    async def _resume(self, message: MessageRecord) -> Delivery:
        """An earlier attempt died after claiming: send again only when that cannot duplicate."""
        if self.provider.idempotent:
            return await self._send(message)
        await self.store.messages.mark(
            message.key, "sent", at=now(), reason="unconfirmed", provider=self.provider.name
        )
        log.warning(
            "send not repeated: an earlier attempt may have reached the provider",
            contact_id=message.contact_id,
            message_id=message.message_id,
        )
        return Delivery(message_id=message.message_id, status="sent", reason="unconfirmed")

    async def _send(self, message: MessageRecord) -> Delivery:
        try:
            provider_id = await self.provider.send(message)
        except ProviderError as exc:
            if not exc.retryable:
                await self.store.messages.mark(message.key, "failed", reason=str(exc)[:255])
                await self.gates.release_cap(message)
            elif not exc.maybe_sent:
                # The provider certainly did not take it (429, 5xx): the next try may send.
                await self.store.messages.unclaim(message.key)
            delay = timedelta(seconds=exc.retry_after) if exc.retry_after else None
            raise ApplicationError(
                str(exc),
                type="ProviderError",
                non_retryable=not exc.retryable,
                next_retry_delay=delay,
            ) from exc
        await self.store.messages.mark(
            message.key, "sent", at=now(), provider=self.provider.name, provider_id=provider_id
        )
        log.info("message sent", contact_id=message.contact_id, message_id=message.message_id)
        return Delivery(message_id=message.message_id, status="sent", provider_id=provider_id)


def _prepared(
    message: MessageRecord, status: str | None = None, reason: str | None = None
) -> PreparedMessage:
    # Sent, failed or in flight: deliver_message knows the rest and answers idempotently.
    status = status or (message.status if message.status in ("refused", "skipped") else "prepared")
    return PreparedMessage(
        key=message.key,
        message_id=message.message_id,
        status=status,
        reason=reason or message.reason,
    )


def _delivery(message: MessageRecord) -> Delivery:
    return Delivery(
        message_id=message.message_id,
        status=message.status,
        reason=message.reason,
        provider_id=message.provider_id,
    )
