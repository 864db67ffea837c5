"""The ``outbox`` provider: writes each message as an ``.eml`` file instead of mailing it.

The message row itself is already in the store; the file is what a person opens in a mail
client (or ``sojourn outbox``) to see exactly what would have been sent.
"""

from __future__ import annotations

import asyncio
import os
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

from activities.providers.base import Commit, no_commit
from store.records import MessageRecord

# RFC 5322 allows 998 characters a line. With the default 78, Python folds a long
# ``List-Unsubscribe`` URL into RFC 2047 encoded words, which mail clients do not unfold.
MIME_POLICY = email_policy.default.clone(max_line_length=998)


def to_mime(message: MessageRecord) -> EmailMessage:
    """The message as a MIME email with text and HTML alternatives."""
    mime = EmailMessage(policy=MIME_POLICY)
    for name, value in message.headers.items():
        mime[name] = value
    mime.set_content(message.text or "")
    if message.html:
        mime.add_alternative(message.html, subtype="html")
    return mime


class OutboxProvider:
    """Writes ``<message_id>.eml`` under ``directory``; a second send of a key writes nothing."""

    name = "outbox"
    idempotent = True
    resend_unknown = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, message: MessageRecord) -> Path:
        """Where the ``.eml`` of ``message`` lives."""
        return self.directory / f"{message.message_id}.eml"

    async def send(self, message: MessageRecord, commit: Commit = no_commit) -> str:
        path = self.path_for(message)
        await asyncio.to_thread(self._write, path, message)
        return path.name

    async def lookup(self, message: MessageRecord) -> bool | None:
        return self.path_for(message).exists()

    def content(self, message: MessageRecord) -> bytes:
        """What the file holds: the MIME message."""
        return bytes(to_mime(message))

    def _write(self, path: Path, message: MessageRecord) -> None:
        if not path.exists():
            write_once(path, self.content(message))


def write_once(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` unless it exists: the outboxes' idempotent file write.

    Every outbox (email, SMS, push, audiences) names a file by message id, so a retried send
    finds its file and writes nothing; the rename is atomic, so a reader never sees half a
    message and a crash leaves no file behind.
    """
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
