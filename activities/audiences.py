"""Ad audiences: add or remove a contact through an outgoing, signed webhook.

Ad platforms' customer-list APIs (Meta Custom Audiences, Google Customer Match, TikTok...)
match people on hashes, so the body carries only ``email_sha256`` (SHA-256 of the trimmed,
lower-cased address) and ``phone_sha256`` (SHA-256 of the E.164 number, ``+`` included),
never the plain values. Each call is signed: ``X-Sojourn-Signature: t=<unix>,v1=<hex>``
with ``v1 = HMAC-SHA256(secret, "<t>.<body>")``, and carries ``Idempotency-Key``.

Exactly once per step, through the send ledger (channel ``audience``): the row is written
before the call and marked after it. Adding someone twice, or removing them twice, changes
nothing at the receiving end, so a call interrupted after it left is made again with the
same body and key rather than recorded as unknown. 429/5xx/timeouts are retried with backoff
by the activity's retry policy (``Retry-After`` honoured); other 4xx fail the step for good.

An audience missing from ``SOJOURN_AUDIENCES`` goes to the outbox outside production (``make
dev``, tests): the call's body is written to ``<outbox>/<message_id>.audience.json`` and listed
by ``sojourn outbox --channel audience``. In production it fails the step for good, naming the
audience and the setting.

Adding needs the contact's consent to the journey's topic on channel ``audience`` (single
opt-in topics are granted until withdrawn, like email); removing never asks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audience_models import SYNC_AUDIENCE, AudienceSynced, SyncAudience
from activities.channels.phones import maybe_e164
from activities.channels.settings import Audience
from activities.gatekeeper import Gatekeeper
from activities.handing import retry_delay
from activities.policy import MessagingPolicy
from activities.providers.base import ProviderError
from activities.providers.http import HttpProvider
from activities.providers.outbox import write_once
from store import Store
from store._sql import now
from store.records import ContactRecord, MessageRecord

log = structlog.get_logger(__name__)
AUDIENCE = "audience"
FINAL = ("sent", "refused", "failed", "unknown")


def sha256(value: str) -> str:
    """Hex SHA-256 of ``value`` (UTF-8)."""
    return hashlib.sha256(value.encode()).hexdigest()


def member(contact: ContactRecord, default_region: str | None = None) -> dict[str, str]:
    """The contact as ad platforms match people: hashes of normalised email and phone."""
    found: dict[str, str] = {}
    if contact.email and contact.email.strip():
        found["email_sha256"] = sha256(contact.email.strip().lower())
    phone = maybe_e164(contact.phone, contact.country or default_region)
    if phone:
        found["phone_sha256"] = sha256(phone)
    return found


def outbox_file(directory: Path, message: MessageRecord) -> Path:
    """Where the outbox keeps an audience call that had no webhook to go to."""
    return directory / f"{message.message_id}.audience.json"


def signature(secret: str, body: bytes, at: int) -> str:
    """The ``X-Sojourn-Signature`` header of ``body`` sent at unix time ``at``."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


class AudienceActivities:
    """The ``sync_audience`` activity; store, audiences and policy are injected once.

    Args:
        store: the contact store (profiles, consent, the ledger).
        audiences: the configured audiences by name (``SOJOURN_AUDIENCES``).
        policy: topics and their opt-in modes.
        client: the shared ``httpx.AsyncClient``.
        default_region: the country national phone numbers are read in.
        outbox: where calls to audiences that are not configured go (dev and test); None in
            production, where such an audience fails the step.
    """

    def __init__(
        self,
        store: Store,
        audiences: Mapping[str, Audience],
        policy: MessagingPolicy,
        client: httpx.AsyncClient | None = None,
        default_region: str = "FR",
        outbox: Path | None = None,
    ) -> None:
        self.store = store
        self.audiences = dict(audiences)
        self.gates = Gatekeeper(store, policy)
        self.http = HttpProvider(client or httpx.AsyncClient(timeout=10.0), "")
        self.http.name = "audience webhook"
        self.default_region = default_region
        self.outbox = outbox

    @activity.defn(name=SYNC_AUDIENCE)
    async def sync_audience(self, request: SyncAudience) -> AudienceSynced:
        """Call the audience's webhook for this step, once (idempotent on ``key``)."""
        config = self.audiences.get(request.audience)
        if config is None and self.outbox is None:
            known = ", ".join(sorted(self.audiences)) or "none"
            raise ApplicationError(
                f"no audience {request.audience!r} in SOJOURN_AUDIENCES (configured: {known}); "
                f'set SOJOURN_AUDIENCES=\'{{"{request.audience}": {{"url": "...", '
                '"secret": "..."}}\'',
                type="UnknownAudience",
                non_retryable=True,
            )
        message = await self.store.messages.get(request.key) or await self._prepare(request)
        if message.status in FINAL:
            return _synced(message)
        if message.status == "prepared":
            await self.store.messages.claim(message.key)
        if config is None:
            return await self._to_outbox(message, request)
        # sending or committing: the call is idempotent by nature, so make it (again).
        body = (message.text or "").encode()
        at = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.key,
            "X-Sojourn-Signature": signature(config.secret, body, at),
        }

        async def commit() -> None:
            await self.store.messages.commit(message.key, now())

        try:
            await self.http.post(config.url, content=body, headers=headers, commit=commit)
        except ProviderError as exc:
            if not exc.retryable:
                await self.store.messages.mark(message.key, "failed", reason=str(exc)[:255])
                raise ApplicationError(str(exc), type="ProviderError", non_retryable=True) from exc
            raise ApplicationError(
                str(exc),
                type="ProviderError",
                next_retry_delay=retry_delay(exc.retry_after, activity.info().attempt),
            ) from exc
        return await self._done(message, request, "webhook")

    async def _to_outbox(self, message: MessageRecord, request: SyncAudience) -> AudienceSynced:
        """The call written to the outbox instead of made (an audience not configured)."""
        assert self.outbox is not None
        write_once(outbox_file(self.outbox, message), (message.text or "").encode())
        return await self._done(message, request, "outbox")

    async def _done(
        self, message: MessageRecord, request: SyncAudience, provider: str
    ) -> AudienceSynced:
        await self.store.messages.mark(message.key, "sent", at=now(), provider=provider)
        log.info(
            "audience synced",
            contact_id=message.contact_id,
            message_id=message.message_id,
            audience=request.audience,
            action=request.action,
            provider=provider,
        )
        return AudienceSynced(message_id=message.message_id, status="sent")

    async def _prepare(self, request: SyncAudience) -> MessageRecord:
        contact = await self.store.contacts.get(request.contact_id)
        hashes = member(contact, self.default_region) if contact else {}
        reason = None
        if not hashes:
            reason = "no_identifier"
        elif request.action == "add":
            verdict = await self.gates.refusal(request.contact_id, "-", request.topic, AUDIENCE)
            reason = verdict.reason if verdict else None
        record = MessageRecord(
            key=request.key,
            message_id=uuid.uuid4().hex,
            contact_id=request.contact_id,
            journey=request.journey,
            step=request.step,
            template=f"audience/{request.audience}",
            topic=request.topic,
            to_address=request.audience,
            subject=request.action,
            text=json.dumps(
                {
                    "audience": request.audience,
                    "action": request.action,
                    "members": [hashes],
                    "idempotency_key": request.key,
                },
                sort_keys=True,
            ),
            status="refused" if reason else "prepared",
            reason=reason,
            created_at=now(),
            channel=AUDIENCE,
        )
        return await self.store.messages.prepare(record)


def _synced(message: MessageRecord) -> AudienceSynced:
    return AudienceSynced(
        message_id=message.message_id, status=message.status, reason=message.reason
    )
