"""SendGrid (``POST /v3/mail/send``): ids in ``custom_args``, journey and step as categories."""

from __future__ import annotations

from email.utils import parseaddr

import httpx

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

    async def send(self, message: MessageRecord) -> str:
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
        response = await self.post("/v3/mail/send", json=body, headers=headers)
        return response.headers.get("x-message-id", "")
