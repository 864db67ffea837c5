"""The interface every email provider implements, and the error they all raise."""

from __future__ import annotations

from typing import Protocol

from store.records import MessageRecord


class ProviderError(Exception):
    """A provider did not take the message.

    Args:
        message: what went wrong (no personal data).
        retryable: whether trying again may help (429, 5xx, timeouts) or not (4xx).
        retry_after: seconds the provider asked to wait (``Retry-After``), if any.
        maybe_sent: the outcome is unknown (a timeout after the request left): the provider
            may have accepted it, so a retry must not send blindly.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


class Provider(Protocol):
    """Sends one rendered message.

    Attributes:
        name: the provider's name in the ledger (``outbox``, ``smtp``, ``postmark``...).
        idempotent: True when sending the same message twice yields one email (the outbox
            writes one file per message id); the deliver activity then may retry a send whose
            outcome it does not know.
    """

    name: str
    idempotent: bool

    async def send(self, message: MessageRecord) -> str:
        """Hand ``message`` over; return the provider's id for it."""
        ...
