"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.ports import free_port


@dataclass
class Mailbox:
    """Messages the server accepted; recipients starting ``bounce`` get 550, ``later`` 451."""

    received: list[bytes] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("later"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(envelope.content)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default) for raw in self.received]


@dataclass
class SlowMailbox(Mailbox):
    """A slow server that keeps a message *before* its 250 reply: the worst case for a client.

    A client that dies during the ``delay`` leaves a message the server has, although the
    client never heard that it was taken. ``in_data`` holds the Sojourn message ids between
    the end of their data and the reply, so a test can kill a worker exactly there.
    """

    delay: float = 0.8
    in_data: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(envelope.content)
        message_id = message_from_bytes(envelope.content)["X-Sojourn-Message-Id"] or ""
        with self.lock:
            self.in_data.add(message_id)
        try:
            await asyncio.sleep(self.delay)
        finally:
            with self.lock:
                self.in_data.discard(message_id)
        return "250 Message accepted for delivery"

    def count(self, message_id: str) -> int:
        """How many copies of a Sojourn message arrived."""
        return sum(
            message_from_bytes(raw)["X-Sojourn-Message-Id"] == message_id for raw in self.received
        )


@contextmanager
def smtp_server(mailbox: Mailbox | None = None) -> Iterator[tuple[Mailbox, int]]:
    """Run the server for the duration of the block; yields the mailbox and its port."""
    mailbox = mailbox or Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
