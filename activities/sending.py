"""The send activities: prepare (gates, render, ledger) and deliver (the provider call).

Rendered content never returns to the workflow: it stays in the store, so no personal data
(address, name, body) lands in Temporal's history. The workflow only sees ids and statuses,
and, for a deferred send, the moment to try again.

Exactly once, or visibly not: the deliver step claims the ledger row (``prepared`` →
``sending``) before the provider call, records ``committing`` at the provider's point of no
return (SMTP's DATA, an HTTP API's request) and ``sent`` after. A retry that finds a row
still ``sending`` knows nothing reached the provider and sends. One that finds ``committing``
resolves it: an idempotent provider (outbox) is called again; one that can be searched
(Postmark, SendGrid, Mailgun) is asked; otherwise the message is marked ``unknown`` (at most
once, the default) or sent again with reason ``resent`` when ``SOJOURN_RESEND_UNKNOWN``
names the provider (at least once). ``unknown`` is never counted as sent.

``send_message`` does prepare and deliver in one regular activity (one activity per send);
``prepare_message`` (a local activity) and ``deliver_message`` serve journeys that started
before that change.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from email.utils import formatdate, make_msgid

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channels import EMAIL, ChannelSet
from activities.experiments import subject_variant
from activities.gatekeeper import Gatekeeper, Verdict
from activities.handing import guarded, heartbeating, retry_delay
from activities.links import Links
from activities.models import (
    DELIVER_MESSAGE,
    PREPARE_MESSAGE,
    SEND_MESSAGE,
    DeliverMessage,
    Delivery,
    PreparedMessage,
    PrepareMessage,
    SendMessage,
)
from activities.personalise import template_context
from activities.policy import MessagingPolicy
from activities.providers import Provider, ProviderError
from activities.rendering import Renderer, TemplateError
from store import Store
from store._sql import now
from store.records import ContactRecord, MessageRecord

log = structlog.get_logger(__name__)

FINAL = ("sent", "unknown", "refused", "skipped", "failed")
# A provider's search can lag its send API: a "not found" counts only after this long.
LOOKUP_GRACE = timedelta(minutes=2)
LOOKUP_RETRY = timedelta(seconds=20)
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
        channels: recipients, rendering and providers of SMS and push (``activities/channels``).
    """

    def __init__(
        self,
        store: Store,
        renderer: Renderer,
        provider: Provider,
        mail_from: str,
        policy: MessagingPolicy | None = None,
        channels: ChannelSet | None = None,
    ) -> None:
        self.store = store
        self.renderer = renderer
        self.provider = provider
        self.mail_from = mail_from
        self.policy = policy or PERMISSIVE
        self.links = Links(self.policy)
        self.gates = Gatekeeper(store, self.policy)
        self.channels = channels or ChannelSet(store)

    # ---- prepare ------------------------------------------------------------------------

    @activity.defn(name=PREPARE_MESSAGE)
    async def prepare_message(self, request: PrepareMessage) -> PreparedMessage:
        """Check the gates, render and write the message to the ledger (idempotent on key)."""
        return await self._prepare(request, early_checks=True)

    async def _prepare(self, request: PrepareMessage, *, early_checks: bool) -> PreparedMessage:
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
            verdict, _ = await self._refusal(request, contact)
        if verdict is not None:
            await self.store.messages.mark(request.key, "refused", reason=verdict.reason)
            return _prepared(existing, "refused", verdict.reason)
        if not early_checks:
            return _prepared(existing)
        # Cheap early answers; the cap is claimed atomically only by deliver_message.
        verdict = await self.gates.quiet(contact.timezone if contact else None, request.topic, at)
        if verdict is None:
            cap = await self.gates.peek_cap(request.contact_id, request.topic, at, request.channel)
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
        verdict, address = await self._refusal(request, contact)
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
            channel=request.channel,
        )
        locale = None
        if contact is not None and verdict is None and request.channel != EMAIL:
            locale = self.channels.render_into(
                self.renderer, self.policy, self.links, record, contact, request, address or ""
            )
        elif contact is not None and verdict is None:
            locale = self._render_into(record, contact, request)
        stored = await self.store.messages.prepare(record, locale=locale)
        if request.experiment:
            await self.store.experiments.link(
                request.experiment, request.contact_id, stored.message_id
            )
        log.info(
            "message prepared",
            contact_id=request.contact_id,
            message_id=stored.message_id,
            status=stored.status,
            reason=stored.reason,
        )
        return stored

    async def _refusal(
        self, request: PrepareMessage, contact: ContactRecord | None
    ) -> tuple[Verdict | None, str | None]:
        """The gates' refusal on the request's channel, and the recipient's address."""
        recipient = await self.channels.recipient(request.channel, contact)
        if recipient.problem:
            return Verdict("refuse", recipient.problem), None
        verdict = await self.gates.refusal(
            request.contact_id, recipient.address, request.topic, request.channel
        )
        return verdict, recipient.address

    def _provider(self, message: MessageRecord) -> Provider:
        return self.channels.provider(message.channel) or self.provider

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
            survey_url=self.links.survey_url(record.message_id),
            default_timezone=self.policy.default_timezone,
            default_locale=self.policy.default_locale,
            now=now(),
        )
        try:
            rendered = self.renderer.render(request.template, context)
            if request.subject:  # an experiment arm's subject line: its errors are as final
                rendered = subject_variant(
                    self.renderer, rendered, request.subject, context, request.template
                )
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
        async with heartbeating():
            return await self._deliver(request)

    @activity.defn(name=SEND_MESSAGE)
    async def send_message(self, request: SendMessage) -> Delivery:
        """The whole send in one activity: gates, render, ledger, provider (idempotent on key).

        A template error fails it for good (named in the Web UI); a deferral comes back as
        ``deferred`` with the moment to try again, which the journey sleeps until.
        """
        async with heartbeating():
            prepared = await self._prepare(request, early_checks=False)
            if prepared.status != "prepared":
                return Delivery(
                    message_id=prepared.message_id,
                    status=prepared.status,
                    reason=prepared.reason,
                    not_before=prepared.not_before,
                )
            return await self._deliver(
                DeliverMessage(key=request.key, at=request.at, on_cap=request.on_cap)
            )

    async def _deliver(self, request: DeliverMessage) -> Delivery:
        message = await self.store.messages.get(request.key)
        if message is None:
            raise ApplicationError(f"no prepared message for key {request.key}", non_retryable=True)
        if message.status in FINAL:
            return _delivery(message)
        if message.status == "committing":
            return await self._resolve(message)
        if message.status == "sending":
            # An earlier attempt died before the point of no return: nothing reached the
            # provider (SMTP: no DATA yet), so this attempt goes through every gate again.
            await self.store.messages.unclaim(request.key)
        contact = await self.store.contacts.get(message.contact_id)
        timezone = contact.timezone if contact else None
        # Every gate again at the moment of sending, not only when the step began.
        verdict = await self.gates.refusal(
            message.contact_id, message.to_address, message.topic, message.channel
        )
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
            return _delivery(current) if current.status in FINAL else await self._resolve(current)
        return await self._send(message)

    async def _resolve(self, message: MessageRecord) -> Delivery:
        """An earlier attempt died after the point of no return: find out, or say unknown."""
        provider = self._provider(message)
        if provider.idempotent:
            return await self._resend(message, reason=None)
        found = await provider.lookup(message)
        if found:
            await self.store.messages.mark(
                message.key, "sent", at=message.sent_at, reason="confirmed", provider=provider.name
            )
            log.info("interrupted send confirmed by the provider", **_ids(message))
            return Delivery(message_id=message.message_id, status="sent", reason="confirmed")
        if found is False:
            handed = message.sent_at or now()
            if now() - handed < LOOKUP_GRACE:
                # Searches lag behind the send API: ask again before believing a "no".
                raise ApplicationError(
                    f"asking {provider.name} whether it has message {message.message_id}",
                    type="OutcomePending",
                    next_retry_delay=LOOKUP_RETRY,
                )
            log.warning("provider has no trace of an interrupted send; sending it", **_ids(message))
            return await self._resend(message, reason="resent")
        if provider.resend_unknown:
            log.warning("interrupted send of unknown outcome sent again", **_ids(message))
            return await self._resend(message, reason="resent")
        await self.store.messages.mark(
            message.key, "unknown", at=message.sent_at, reason="interrupted", provider=provider.name
        )
        log.warning("interrupted send of unknown outcome not repeated", **_ids(message))
        return Delivery(message_id=message.message_id, status="unknown", reason="interrupted")

    async def _resend(self, message: MessageRecord, *, reason: str | None) -> Delivery:
        # committing → sending, then the hand-over as usual (the cap slot is already ours).
        await self.store.messages.unclaim(message.key)
        await self.store.messages.claim(message.key)
        return await self._send(message, reason=reason)

    async def _send(self, message: MessageRecord, *, reason: str | None = None) -> Delivery:
        committed = False

        async def commit() -> None:
            nonlocal committed
            # Set before the write: if the write is interrupted, the send is finished, not cut.
            committed = True
            await self.store.messages.commit(message.key, now())

        provider = self._provider(message)
        try:
            provider_id = await guarded(provider.send(message, commit), lambda: committed)
        except asyncio.CancelledError:
            # Stopped before the point of no return (an exit, or the worker shutting down).
            await asyncio.shield(self.store.messages.unclaim(message.key, reason="cancelled"))
            log.info("send cancelled before the hand-over", **_ids(message))
            raise
        except ProviderError as exc:
            if not exc.retryable:
                await self.store.messages.mark(message.key, "failed", reason=str(exc)[:255])
                await self.gates.release_cap(message)
            elif not exc.maybe_sent:
                # The provider certainly did not take it (429, 5xx): the next try may send.
                await self.store.messages.unclaim(message.key, reason=f"retrying: {exc}"[:255])
            delay = retry_delay(exc.retry_after, activity.info().attempt)
            raise ApplicationError(
                str(exc),
                type="ProviderError",
                non_retryable=not exc.retryable,
                next_retry_delay=delay if exc.retryable else None,
            ) from exc
        await self.store.messages.mark(
            message.key,
            "sent",
            at=now(),
            reason=reason,
            provider=provider.name,
            provider_id=provider_id,
        )
        log.info("message sent", reason=reason, **_ids(message))
        return Delivery(
            message_id=message.message_id, status="sent", reason=reason, provider_id=provider_id
        )


def _ids(message: MessageRecord) -> dict[str, str]:
    return {"contact_id": message.contact_id, "message_id": message.message_id}


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
