"""Web push (RFC 8030) with VAPID (RFC 8292) and ``aes128gcm`` payloads (RFC 8291).

``pywebpush`` encrypts the payload for each subscription and ``py_vapid`` signs the VAPID
token; the requests go through the worker's shared ``httpx.AsyncClient``. A send reaches every
subscription of the contact; one the push service reports gone (404, 410) is deleted.

Outcome: sent when at least one subscription accepted it (201/202). Nothing accepted and a
429/5xx/timeout among the answers: retried (the ``Topic`` header makes the push service replace
a copy it still holds, so a retry does not stack two notifications). Nothing accepted and every
subscription gone or refusing: failed for good.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
import structlog
from py_vapid import Vapid02
from pywebpush import WebPusher

from activities.providers.base import Commit, ProviderError, no_commit
from activities.providers.http import retry_after
from store import Store
from store.push_subscriptions import PushSubscription
from store.records import MessageRecord

log = structlog.get_logger(__name__)
GONE = (404, 410)


class WebPushProvider:
    """Sends web push notifications to a contact's browser subscriptions.

    Args:
        client: the worker's shared ``httpx.AsyncClient``.
        store: where the subscriptions are (gone ones are removed).
        vapid_private_key: the application server's key (PEM, or raw base64url).
        subject: the VAPID ``sub`` claim (``mailto:`` or ``https:``).
        ttl: seconds the push service keeps an undelivered notification.
    """

    name = "webpush"
    idempotent = False
    resend_unknown = False

    def __init__(
        self,
        client: httpx.AsyncClient,
        store: Store,
        vapid_private_key: str,
        *,
        subject: str,
        ttl: int = 86400,
    ) -> None:
        self.client = client
        self.store = store
        key = vapid_private_key.strip()
        # A PEM file's content, or the raw base64url key that `vapid --gen` tools print.
        self.vapid = Vapid02.from_pem(key.encode()) if "BEGIN" in key else Vapid02.from_string(key)
        self.subject = subject
        self.ttl = ttl

    def payload(self, message: MessageRecord) -> bytes:
        """What the service worker receives: title, body, url and the message id."""
        return json.dumps(
            {
                "title": message.subject or "",
                "body": message.text or "",
                "url": message.headers.get("X-Sojourn-Url", ""),
                "message_id": message.message_id,
            }
        ).encode()

    async def send(self, message: MessageRecord, commit: Commit = no_commit) -> str:
        subscriptions = await self.store.push.of(message.contact_id)
        if not subscriptions:
            raise ProviderError("no push subscription left", retryable=False)
        await commit()
        accepted, retry, maybe_sent, wait = 0, False, False, None
        for sub in subscriptions:
            try:
                response = await self._post(sub, message)
            except httpx.TimeoutException:
                retry = maybe_sent = True
                continue
            except httpx.TransportError:
                retry = True
                continue
            status = response.status_code
            if status < 300:
                accepted += 1
            elif status in GONE:
                await self.store.push.remove(sub.endpoint)
                log.info("push subscription gone", contact_id=message.contact_id, status=status)
            elif status == 429 or status >= 500:
                retry, wait = True, retry_after(response)
            else:
                log.warning("push service refused", contact_id=message.contact_id, status=status)
        if accepted:
            return f"{accepted}/{len(subscriptions)}"
        if retry:
            raise ProviderError(
                "push service unavailable", retryable=True, retry_after=wait, maybe_sent=maybe_sent
            )
        raise ProviderError("every push subscription is gone or refused it", retryable=False)

    async def lookup(self, message: MessageRecord) -> bool | None:
        return None  # push services cannot be asked what they hold

    async def _post(self, sub: PushSubscription, message: MessageRecord) -> httpx.Response:
        encoded = WebPusher(sub.info()).encode(self.payload(message), "aes128gcm")
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(sub.endpoint))
        headers = self.vapid.sign({"sub": self.subject, "aud": origin})
        headers.update(
            {
                "TTL": str(self.ttl),
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                "Urgency": "normal",
                # At most 32 URL-safe characters: a retry replaces a copy still queued.
                "Topic": message.message_id[:32],
            }
        )
        return await self.client.post(sub.endpoint, content=encoded["body"], headers=headers)
