"""Postmark (``POST /email``). Marketing goes to the broadcast stream, the rest to outbound.

Postmark has no idempotency key; the send ledger prevents duplicates, and the key travels in
``Metadata`` so a duplicate would at least be traceable.
"""

from __future__ import annotations

import httpx

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

    async def send(self, message: MessageRecord) -> str:
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
        headers = {"X-Postmark-Server-Token": self.token, "Accept": "application/json"}
        response = await self.post("/email", json=body, headers=headers)
        return str(response.json().get("MessageID", ""))
