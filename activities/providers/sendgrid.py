"""SendGrid (``POST /v3/mail/send``): ids in ``custom_args``, journey and step as categories.

An interrupted send is looked up in the Email Activity API (``GET /v3/messages``, a paid
add-on) by its ``sojourn_key`` custom arg; without access the outcome stays unknown.
"""

from __future__ import annotations

from email.utils import parseaddr

import httpx

from activities.providers.base import Commit, no_commit
from activities.providers.http import HttpProvider, custom_headers, tags
from store.records import MessageRecord


class SendGridProvider(HttpProvider):
    """Sends with SendGrid's v3 Mail Send API."""

    name = "sendgrid"

    def __init__(
        self, client: httpx.AsyncClient, api_key: str, *, base_url: str = "https://api.sendgrid.com"
    ) -> None:
        super().__init__(client, base_url)
        self.api_key = api_key

    async def lookup(self, message: MessageRecord) -> bool | None:
        # The key is hex, slashes and dashes: nothing to escape inside the quotes.
        query = f"unique_args['sojourn_key']=\"{message.key}\""
        found = await self.get_json(
            "/v3/messages",
            params={"limit": 1, "query": query},
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        if not isinstance(found, dict) or not isinstance(found.get("messages"), list):
            return None
        return bool(found["messages"])

    async def send(self, message: MessageRecord, commit: Commit = no_commit) -> str:
        name, address = parseaddr(message.headers.get("From", ""))
        body = {
            "personalizations": [
                {"to": [{"email": message.to_address}], "custom_args": tags(message)}
            ],
            "from": {"email": address, **({"name": name} if name else {})},
            "subject": message.subject,
            "content": [
                {"type": "text/plain", "value": message.text or ""},
                {"type": "text/html", "value": message.html or ""},
            ],
            "headers": custom_headers(message),
            "categories": [message.journey, message.step][:10],
            "tracking_settings": {
                "click_tracking": {"enable": False},
                "open_tracking": {"enable": False},
            },
        }
        headers = {"Authorization": f"Bearer {self.api_key}"}
        response = await self.post("/v3/mail/send", json=body, headers=headers, commit=commit)
        return response.headers.get("x-message-id", "")
