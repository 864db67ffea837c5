"""First-party open and click tracking, for every provider (``outbox`` and ``smtp`` included).

``GET /t/o/{token}.gif`` answers a 1×1 GIF and records ``Email Opened``; ``GET /t/c/{token}``
records ``Email Link Clicked`` and redirects. The click token signs the message id and the
URL together, so only links that were in the message redirect: a forged or altered token gets
a 400 and no redirect (no open redirect). Events carry ``email_id`` (the message id), journey,
step and template, and go to the journeys through the event log and the relay, which is
kicked for the contact at once (as ``/v1/track`` does), not left to its catch-up scan.
"""

from __future__ import annotations

import base64

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from activities.engagement import Engagement, attribution
from activities.links import Links
from activities.policy import MessagingPolicy
from activities.tokens import BadToken
from gateway.relay import kick_relay

log = structlog.get_logger(__name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, max-age=0"}


def make_tracking_router(policy: MessagingPolicy) -> APIRouter:
    """Open pixel and click redirects; the store comes from ``app.state.store``."""
    router = APIRouter(tags=["messages"])
    links = Links(policy)

    @router.get("/t/o/{token}", summary="Open pixel")
    async def opened(token: str, request: Request) -> Response:
        store = request.app.state.store
        try:
            message = await store.messages.by_message_id(links.opened_message(token))
        except BadToken:
            message = None
        if message is not None:
            props = {**attribution(message), "source": "pixel"}
            if await Engagement(store, policy).event(message.contact_id, "Email Opened", props):
                kick_relay(request.app, message.contact_id)
        # Always the pixel: a broken image in an email helps nobody.
        return Response(PIXEL, media_type="image/gif", headers=NO_STORE)

    @router.get("/t/c/{token}", summary="Click redirect")
    async def clicked(token: str, request: Request) -> Response:
        store = request.app.state.store
        try:
            message_id, url = links.clicked(token)
        except BadToken:
            return JSONResponse({"error": "invalid or altered link"}, status_code=400)
        message = await store.messages.by_message_id(message_id)
        if message is None or not url.startswith(("http://", "https://")):
            return JSONResponse({"error": "unknown link"}, status_code=404)
        props = {**attribution(message), "url": url, "source": "redirect"}
        if await Engagement(store, policy).event(message.contact_id, "Email Link Clicked", props):
            kick_relay(request.app, message.contact_id)
        log.info("link clicked", contact_id=message.contact_id, message_id=message_id)
        return RedirectResponse(url, status_code=302, headers=NO_STORE)

    return router
