"""The interface every email provider implements, and the error they all raise."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from store.records import MessageRecord

# Called by a provider just before the point of no return: the moment after which the
# provider may hold the message even if this process dies (SMTP: the DATA command; HTTP:
# the request). The send ledger records it, so an interrupted send knows which side of
# that moment it died on.
Commit = Callable[[], Awaitable[None]]


async def no_commit() -> None:
    """The default ``commit`` when the caller does not track the handover."""


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
        resend_unknown: what to do with a send interrupted after the point of no return
            when the provider cannot tell whether it has it: True sends again (at least
            once, a duplicate is possible and counted), False records it as ``unknown``
            (at most once). Set from ``SOJOURN_RESEND_UNKNOWN``.
    """

    name: str
    idempotent: bool
    resend_unknown: bool

    async def send(self, message: MessageRecord, commit: Commit = no_commit) -> str:
        """Hand ``message`` over, awaiting ``commit()`` just before the point of no return."""
        ...

    async def lookup(self, message: MessageRecord) -> bool | None:
        """Whether the provider has ``message`` (True/False), or None when it cannot say."""
        ...
