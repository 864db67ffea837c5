"""Mailgun (``POST /v3/{domain}/messages``): ids as ``v:`` variables, tags with ``o:tag``.

An interrupted send is looked up in the events API: an ``accepted`` event whose user
variables carry its ``sojourn_key``.
"""

from __future__ import annotations

import json

import httpx

from activities.providers.base import Commit, no_commit
from activities.providers.http import HttpProvider, custom_headers, tags
from store.records import MessageRecord


class MailgunProvider(HttpProvider):
    """Sends with Mailgun's messages API (form-encoded, basic auth ``api:<key>``)."""

    name = "mailgun"

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_key: str,
        domain: str,
        *,
        base_url: str = "https://api.mailgun.net",
    ) -> None:
        super().__init__(client, base_url)
        self.api_key = api_key
        self.domain = domain

    async def lookup(self, message: MessageRecord) -> bool | None:
        params = {
            "event": "accepted",
            "limit": 1,
            "user-variables": json.dumps({"sojourn_key": message.key}),
        }
        found = await self.get_json(
            f"/v3/{self.domain}/events", params=params, auth=("api", self.api_key)
        )
        if not isinstance(found, dict) or not isinstance(found.get("items"), list):
            return None
        return bool(found["items"])

    async def send(self, message: MessageRecord, commit: Commit = no_commit) -> str:
        form: list[tuple[str, str]] = [
            ("from", message.headers.get("From", "")),
            ("to", message.to_address or ""),
            ("subject", message.subject or ""),
            ("text", message.text or ""),
            ("html", message.html or ""),
            ("o:tag", message.journey),
            ("o:tag", message.step),
            ("o:tracking", "no"),
        ]
        form += [(f"v:{k}", v) for k, v in tags(message).items()]
        form += [(f"h:{k}", v) for k, v in custom_headers(message).items()]
        # httpx wants a mapping; repeated fields (two o:tag) become lists.
        data: dict[str, list[str]] = {}
        for key, value in form:
            data.setdefault(key, []).append(value)
        response = await self.post(
            f"/v3/{self.domain}/messages", data=data, auth=("api", self.api_key), commit=commit
        )
        return str(response.json().get("id", ""))
