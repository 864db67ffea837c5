"""One-click survey answers: ``/s/{token}/{answer}`` records a ``Survey Answered`` event.

The survey email holds one link per answer (``{{ survey_url }}/<answer>``); the token signs
the message id (``activities/links.py``), so only messages Sojourn sent can answer, and the
event carries the message's attribution (``email_id``, journey, step) for the journey to
read. One answer per message: the event id is derived from the message, so a second click
(or a changed mind) is stored once, the first answer standing.

Link scanners fetch every URL of an email, so ``GET`` itself records nothing: it answers a
page whose form posts the answer at once (a browser runs it; a scanner does not), with a
button for browsers without scripts. The ``POST`` records the answer and thanks.
"""

from __future__ import annotations

import html
import re

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from activities.engagement import Engagement, attribution
from activities.links import Links
from activities.policy import MessagingPolicy
from activities.tokens import BadToken
from gateway.relay import kick_relay
from store.records import MessageRecord

log = structlog.get_logger(__name__)

SURVEY_ANSWERED = "Survey Answered"
ANSWER = re.compile(r"^[a-z0-9_-]{1,40}$")
PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:Helvetica,Arial,sans-serif;max-width:480px;margin:48px auto;
padding:0 16px;color:#222}}button{{padding:12px 20px;background:#1d3b53;color:#fff;
border:0;border-radius:4px;font-size:16px}}</style></head><body>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=title, body=body), status_code=status)


def make_survey_router(policy: MessagingPolicy) -> APIRouter:
    """The survey answer pages; the store and relay come from ``app.state``."""
    router = APIRouter(tags=["messages"])
    links = Links(policy)

    async def message_of(request: Request, token: str, answer: str) -> MessageRecord | None:
        if not ANSWER.match(answer):
            return None
        try:
            message_id = links.survey_message(token)
        except BadToken:
            return None
        return await request.app.state.store.messages.by_message_id(message_id)

    def invalid() -> HTMLResponse:
        return _page("Invalid link", "<p>This survey link is invalid or altered.</p>", 400)

    @router.get("/s/{token}/{answer}", summary="Survey answer page", response_class=HTMLResponse)
    async def confirm(token: str, answer: str, request: Request) -> HTMLResponse:
        if await message_of(request, token, answer) is None:
            return invalid()
        body = (
            '<form id="answer" method="post"><p>Merci ! Votre réponse est en cours '
            "d'envoi… / Thank you! Sending your answer…</p>"
            "<noscript><button>Envoyer / Send</button></noscript></form>"
            '<script>document.getElementById("answer").submit()</script>'
        )
        return _page("Survey", body)

    @router.post("/s/{token}/{answer}", summary="Record a survey answer")
    async def record(token: str, answer: str, request: Request) -> HTMLResponse:
        message = await message_of(request, token, answer)
        if message is None:
            return invalid()
        props = {**attribution(message), "answer": answer}
        stored = await Engagement(request.app.state.store, policy).event(
            message.contact_id, SURVEY_ANSWERED, props, event_id=f"survey-{message.message_id}"
        )
        if stored:
            kick_relay(request.app, message.contact_id)
        log.info("survey answered", contact_id=message.contact_id, message_id=message.message_id)
        thanks = (
            f"<h1>Merci ! / Thank you!</h1><p>{html.escape(answer.replace('_', ' '))}</p>"
            "<p>Votre réponse nous aide à mieux vous écrire. / Your answer helps us write "
            "to you better.</p>"
        )
        return _page("Thank you", thanks)

    return router
