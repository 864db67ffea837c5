"""What the HTTP providers share: one ``httpx.AsyncClient`` and the mapping of errors.

- 429: retryable, honouring ``Retry-After`` (seconds or an HTTP date);
- 5xx and transport errors: retryable;
- a timeout once the request may have arrived: retryable but "maybe sent";
- other 4xx (validation, auth): not retryable, the message fails.

None of the three APIs takes an idempotency key, but each can be searched for a message by
the ids Sojourn attaches to it (Postmark metadata, SendGrid custom args, Mailgun variables):
``lookup`` asks, so a send interrupted after the request left is resolved with the provider.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from activities.providers.base import Commit, ProviderError, no_commit
from store.records import MessageRecord

# Headers the HTTP APIs set themselves from their own fields.
OWN_HEADERS = {"from", "to", "subject", "date", "message-id", "content-type", "mime-version"}


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the provider asks to wait, from ``Retry-After``."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def custom_headers(message: MessageRecord) -> dict[str, str]:
    """Headers to pass through: List-Unsubscribe, the Sojourn ids, the idempotency key."""
    return {k: v for k, v in message.headers.items() if k.lower() not in OWN_HEADERS}


def tags(message: MessageRecord) -> dict[str, str]:
    """Journey, step and message id, for the provider's tags and metadata."""
    return {
        "sojourn_message_id": message.message_id,
        "sojourn_journey": message.journey,
        "sojourn_step": message.step,
        "sojourn_key": message.key,
    }


class HttpProvider:
    """Base of the HTTP providers: posts and maps errors.

    Args:
        client: the worker's one long-lived ``httpx.AsyncClient``.
        base_url: the provider's API root (overridable for tests and regions).
    """

    name = "http"
    idempotent = False
    resend_unknown = False

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")

    async def lookup(self, message: MessageRecord) -> bool | None:
        """Whether the provider has ``message``; None when it cannot say (see subclasses)."""
        return None

    async def get_json(self, path: str, **kwargs: Any) -> Any | None:
        """GET from the API; the JSON answer, or None when the API could not answer."""
        try:
            response = await self.client.get(self.base_url + path, **kwargs)
        except httpx.HTTPError:
            return None
        if response.status_code >= 300:
            # 401/403: the key may not be allowed to search (SendGrid sells that separately).
            return None
        try:
            return response.json()
        except ValueError:
            return None

    async def post(self, path: str, *, commit: Commit = no_commit, **kwargs: Any) -> httpx.Response:
        """POST to the API; raises :class:`ProviderError` unless the answer is 2xx."""
        await commit()
        try:
            response = await self.client.post(self.base_url + path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ProviderError(f"{self.name} unreachable", retryable=True) from exc
        except httpx.TimeoutException as exc:
            raise ProviderError(f"{self.name} timed out", retryable=True, maybe_sent=True) from exc
        except httpx.TransportError as exc:
            raise ProviderError(
                f"{self.name} transport error", retryable=True, maybe_sent=True
            ) from exc
        status = response.status_code
        if status < 300:
            return response
        detail = f"{self.name} answered {status}: {response.text[:200]}"
        if status == 429:
            raise ProviderError(detail, retryable=True, retry_after=retry_after(response))
        if status >= 500:
            raise ProviderError(detail, retryable=True, retry_after=retry_after(response))
        raise ProviderError(detail, retryable=False)
