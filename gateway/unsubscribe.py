"""One-click unsubscribe (RFC 8058): ``POST /u/{token}``.

Mailbox providers call this from their own "Unsubscribe" button with the body
``List-Unsubscribe=One-Click``. It needs no cookie or auth (the signed token is the
authority), is idempotent (a repeat changes nothing and answers the same), never redirects,
and ends the contact's journeys on the message's topic through an ``Unsubscribed`` event.
``GET`` on the same link is the preference centre (``gateway/preferences.py``): a GET never
unsubscribes, because link scanners and previews fetch every URL in a message.
"""

from __future__ import annotations

from typing import TypedDict

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from activities.engagement import Engagement
from activities.links import Links
from activities.policy import MessagingPolicy
from activities.tokens import BadToken
from gateway.relay import kick_relay
from store import Store
from store.records import MessageRecord

log = structlog.get_logger(__name__)


class ClientProof(TypedDict):
    """The request facts the consent ledger keeps as proof."""

    ip: str | None
    user_agent: str | None


def client_proof(request: Request) -> ClientProof:
    """IP and user agent of the request, kept in the consent ledger as proof."""
    return {
        "ip": request.client.host if request.client else None,
        "user_agent": (request.headers.get("user-agent") or "")[:512] or None,
    }


async def message_for(request: Request, links: Links, token: str) -> MessageRecord | None:
    """The message a signed unsubscribe token points at; None for forged or unknown ones."""
    try:
        message_id = links.unsubscribe_message(token)
    except BadToken:
        return None
    store: Store = request.app.state.store
    return await store.messages.by_message_id(message_id)


def make_unsubscribe_router(policy: MessagingPolicy) -> APIRouter:
    """The one-click endpoint; the store comes from ``app.state.store``."""
    router = APIRouter(tags=["messages"])
    links = Links(policy)

    @router.post("/u/{token}", summary="One-click unsubscribe (RFC 8058)")
    async def one_click(token: str, request: Request) -> JSONResponse:
        message = await message_for(request, links, token)
        if message is None:
            return JSONResponse({"error": "invalid or altered link"}, status_code=400)
        engagement = Engagement(request.app.state.store, policy)
        changed = await engagement.withdraw(
            message.contact_id,
            message.topic,
            source="unsubscribe_link",
            message=message,
            **client_proof(request),
        )
        if changed:
            kick_relay(request.app, message.contact_id)  # journeys end now, not at the scan
        log.info(
            "one-click unsubscribe",
            contact_id=message.contact_id,
            message_id=message.message_id,
            changed=changed,
        )
        return JSONResponse({"status": "unsubscribed", "topic": message.topic})

    return router
