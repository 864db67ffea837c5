"""The outbox of SMS and push: one JSON file per message instead of a real send (``make dev``).

Like the email outbox it is idempotent (one file per message id, written atomically), and
``sojourn outbox --channel sms`` lists what it holds from the ledger.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from activities.providers.base import Commit, no_commit
from store.records import MessageRecord


class ChannelOutboxProvider:
    """Writes ``<message_id>.<channel>.json`` under ``directory``."""

    name = "outbox"
    idempotent = True
    resend_unknown = True

    def __init__(self, directory: Path, channel: str) -> None:
        self.directory = directory
        self.channel = channel

    def path_for(self, message: MessageRecord) -> Path:
        """Where ``message``'s file lives."""
        return self.directory / f"{message.message_id}.{self.channel}.json"

    async def send(self, message: MessageRecord, commit: Commit = no_commit) -> str:
        path = self.path_for(message)
        await asyncio.to_thread(self._write, path, message)
        return path.name

    async def lookup(self, message: MessageRecord) -> bool | None:
        return self.path_for(message).exists()

    def _write(self, path: Path, message: MessageRecord) -> None:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "channel": self.channel,
            "to": message.to_address,
            "title": message.subject,
            "text": message.text,
            "headers": message.headers,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, path)
