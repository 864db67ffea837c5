"""The outbox of SMS and push: one JSON file per message instead of a real send (``make dev``).

The email outbox with another file: idempotent (one file per message id, written atomically),
and ``sojourn outbox --channel sms`` lists what it holds from the ledger.
"""

from __future__ import annotations

import json
from pathlib import Path

from activities.providers.outbox import OutboxProvider
from store.records import MessageRecord


class ChannelOutboxProvider(OutboxProvider):
    """Writes ``<message_id>.<channel>.json`` under ``directory``."""

    def __init__(self, directory: Path, channel: str) -> None:
        super().__init__(directory)
        self.channel = channel

    def path_for(self, message: MessageRecord) -> Path:
        """Where ``message``'s file lives."""
        return self.directory / f"{message.message_id}.{self.channel}.json"

    def content(self, message: MessageRecord) -> bytes:
        """The message as JSON: recipient, title, text and headers."""
        body = {
            "channel": self.channel,
            "to": message.to_address,
            "title": message.subject,
            "text": message.text,
            "headers": message.headers,
        }
        return json.dumps(body, ensure_ascii=False, indent=2).encode()
