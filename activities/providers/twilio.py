"""SMS through Twilio's Messages REST API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

Form-encoded, HTTP Basic with the account SID and auth token. Twilio takes no idempotency
key: the send ledger prevents duplicates, and a send interrupted after the request left is
resolved by listing the messages sent to that number since the hand-over (``To`` and
``DateSent>``) and looking for the same body. Errors map as for email: 429 and 5xx retried,
other 4xx (21211 invalid number, 21610 recipient replied STOP...) refused for good.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from activities.providers.base import Commit, no_commit
from activities.providers.http import HttpProvider
from store.records import MessageRecord


class TwilioProvider(HttpProvider):
    """Sends SMS with Twilio.

    Args:
        client: the worker's shared ``httpx.AsyncClient``.
        account_sid: ``AC...``.
        auth_token: the account's auth token (also signs Twilio's webhooks).
        sender: a number (E.164) to send from, or None with ``messaging_service_sid``.
        messaging_service_sid: ``MG...``; Twilio picks the sender (and handles STOP itself).
        status_callback: where Twilio posts delivery statuses (``/webhooks/twilio/status``).
        base_url: the API root (a local server in tests).
    """

    name = "twilio"

    def __init__(
        self,
        client: httpx.AsyncClient,
        account_sid: str,
        auth_token: str,
        *,
        sender: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        base_url: str = "https://api.twilio.com",
    ) -> None:
        super().__init__(client, base_url)
        if not (sender or messaging_service_sid):
            raise ValueError(
                "Twilio needs SOJOURN_TWILIO_FROM or SOJOURN_TWILIO_MESSAGING_SERVICE_SID"
            )
        self.auth = httpx.BasicAuth(account_sid, auth_token)
        self.path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.sender = sender
        self.service = messaging_service_sid
        self.status_callback = status_callback

    async def send(self, message: MessageRecord, commit: Commit = no_commit) -> str:
        form = {"To": message.to_address or "", "Body": message.text or ""}
        if self.service:
            form["MessagingServiceSid"] = self.service
        else:
            form["From"] = self.sender or ""
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        response = await self.post(self.path, data=form, auth=self.auth, commit=commit)
        return str(response.json().get("sid", ""))

    async def lookup(self, message: MessageRecord) -> bool | None:
        if message.sent_at is None or not message.to_address:
            return None
        since = (message.sent_at - timedelta(days=1)).date().isoformat()
        params = {"To": message.to_address, "DateSent>": since, "PageSize": 50}
        found = await self.get_json(self.path, params=params, auth=self.auth)
        if not isinstance(found, dict) or not isinstance(found.get("messages"), list):
            return None
        return any(m.get("body") == message.text for m in found["messages"])
