"""The interface every email provider implements."""

from __future__ import annotations

from typing import Protocol

from store.records import MessageRecord


class ProviderError(Exception):
    """A provider refused the message; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Provider(Protocol):
    """Sends one rendered message. Must be idempotent on ``message.key``."""

    name: str

    async def send(self, message: MessageRecord) -> str:
        """Hand ``message`` over; return the provider's id for it."""
        ...
