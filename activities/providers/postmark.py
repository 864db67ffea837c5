"""Postmark (``POST /email``). Marketing goes to the broadcast stream, the rest to outbound.

Postmark has no idempotency key; the send ledger prevents duplicates, and the key travels in
``Metadata``, which the messages API searches (``metadata_sojourn_key=``): an interrupted
send is resolved by asking.
"""

from __future__ import annotations

import httpx

from activities.providers.base import Commit, no_commit
from activities.providers.http import HttpProvider, custom_headers, tags
from store.records import MessageRecord


class PostmarkProvider(HttpProvider):
    """Sends with Postmark's email API."""

    name = "postmark"

    def __init__(
        self,
        client: httpx.AsyncClient,
        token: str,
        *,
        base_url: str = "https://api.postmarkapp.com",
        marketing_stream: str = "broadcast",
        transactional_stream: str = "outbound",
    ) -> None:
        super().__init__(client, base_url)
        self.token = token
        self.streams = (marketing_stream, transactional_stream)

    @property
    def _headers(self) -> dict[str, str]:
        return {"X-Postmark-Server-Token": self.token, "Accept": "application/json"}

    async def lookup(self, message: MessageRecord) -> bool | None:
        params = {"count": 1, "offset": 0, "metadata_sojourn_key": message.key}
        found = await self.get_json("/messages/outbound", params=params, headers=self._headers)
        if not isinstance(found, dict) or "TotalCount" not in found:
            return None
        return int(found["TotalCount"]) > 0

    async def send(self, message: MessageRecord, commit: Commit = no_commit) -> str:
        stream = self.streams[1] if message.topic == "transactional" else self.streams[0]
        body = {
            "From": message.headers.get("From", ""),
            "To": message.to_address,
            "Subject": message.subject,
            "HtmlBody": message.html,
            "TextBody": message.text,
            "MessageStream": stream,
            "Tag": message.journey,
            "Metadata": tags(message),
            "Headers": [{"Name": k, "Value": v} for k, v in custom_headers(message).items()],
            # First-party tracking does opens and clicks for every provider alike.
            "TrackOpens": False,
            "TrackLinks": "None",
        }
        response = await self.post("/email", json=body, headers=self._headers, commit=commit)
        return str(response.json().get("MessageID", ""))
