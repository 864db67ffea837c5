"""The preference centre: ``GET /u/{token}`` (the email's signed link) and its form.

A person sees their topics, ticks or unticks them, or leaves everything. Each change is a
consent-ledger row with source ``preference_centre``, IP and user agent; a withdrawal sends
``Unsubscribed`` (with the topic) so that journeys on that topic end at once. Ticking a double
opt-in topic records a ``pending`` request and asks for a confirmation email (the
``consent_confirmation`` journey sends it, see ``workflows/optin.py``) with a link
(``/optin/{token}``) whose GET shows a button and whose POST confirms: a GET changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from activities.engagement import Engagement
from activities.links import Links
from activities.policy import ALL_TOPICS, MessagingPolicy
from activities.tokens import BadToken
from gateway.channel_preferences import channel_states, save_channels
from gateway.relay import kick_relay
from gateway.unsubscribe import client_proof
from store.consent import GRANTED, PENDING
from store.records import MessageRecord

# (contact_id, topic, ledger_id) -> asks for the confirmation email of a double opt-in.
Confirm = Callable[[str, str, int], Awaitable[object]]

WORDS = {
    "en": {
        "title": "Your email preferences",
        "intro": "Choose what you would like to receive from us.",
        "save": "Save my choices",
        "leave": "Unsubscribe from everything",
        "saved": "Your choices are saved.",
        "left": "You will not receive any marketing email from us any more.",
        "pending": "check your inbox to confirm",
        "invalid": "This link is not valid. Please use the link from your latest email.",
        "confirm_title": "Confirm your subscription",
        "confirm": "Confirm",
        "confirmed": "Thank you, your subscription is confirmed.",
    },
    "fr": {
        "title": "Vos préférences e-mail",
        "intro": "Choisissez ce que vous souhaitez recevoir de notre part.",
        "save": "Enregistrer mes choix",
        "leave": "Me désinscrire de tout",
        "saved": "Vos choix sont enregistrés.",
        "left": "Vous ne recevrez plus aucun e-mail marketing de notre part.",
        "pending": "consultez votre boîte mail pour confirmer",
        "invalid": "Ce lien n'est pas valide. Utilisez le lien de votre dernier e-mail.",
        "confirm_title": "Confirmez votre inscription",
        "confirm": "Confirmer",
        "confirmed": "Merci, votre inscription est confirmée.",
    },
}

_PAGE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ w.title }}</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; background: #f4f1ec; color: #222; }
main { max-width: 520px; margin: 40px auto; background: #fff; padding: 24px 32px; }
label { display: block; padding: 8px 0; font-size: 17px; }
button { padding: 10px 16px; margin: 12px 8px 0 0; font-size: 15px; }
.notice { background: #e6f2e6; padding: 8px 12px; }
.pending { color: #a06000; font-size: 14px; }
.channel { padding: 2px 0 2px 28px; font-size: 15px; }
</style></head>
<body><main>
<h1>{{ w.title }}</h1>
{% if notice %}<p class="notice" id="notice">{{ notice }}</p>{% endif %}
{% if topics is not none %}
<p>{{ w.intro }}</p>
<form method="post" action="{{ action }}">
{% for t in topics %}
<label><input type="checkbox" name="topic" value="{{ t.name }}" id="topic-{{ t.name }}"
{% if t.on %}checked{% endif %}> {{ t.label }}
{% if t.pending %}<span class="pending">({{ w.pending }})</span>{% endif %}</label>
{% for c in t.channels %}<label class="channel"><input type="checkbox" name="{{ c.field }}"
value="{{ t.name }}" id="{{ c.field }}-{{ t.name }}" {% if c.on %}checked{% endif %}>
{{ c.label }}</label>{% endfor %}
{% endfor %}
<button type="submit" name="action" value="save" id="save">{{ w.save }}</button>
<button type="submit" name="action" value="leave" id="leave">{{ w.leave }}</button>
</form>
{% endif %}
{% if confirm_action %}
<form method="post" action="{{ confirm_action }}">
<button type="submit" id="confirm">{{ w.confirm }}</button></form>
{% endif %}
</main></body></html>"""
)


def _language(locale: str | None, default: str) -> str:
    lang = (locale or default).replace("_", "-").split("-")[0].lower()
    return lang if lang in WORDS else "en"


def make_preferences_router(
    policy: MessagingPolicy, *, confirm: Confirm | None = None
) -> APIRouter:
    """The preference centre and the double opt-in confirmation pages.

    Args:
        policy: topics, links.
        confirm: asks for a double opt-in confirmation email (the gateway records an
            ``Opt-in Requested`` event for the relay); without it, ticking a double opt-in
            topic still records the pending request.
    """
    router = APIRouter(tags=["messages"])
    links = Links(policy)

    async def message_for(request: Request, token: str) -> MessageRecord | None:
        # The preference centre's links expire (links.py); one-click unsubscribe's never do.
        try:
            message_id = links.preference_message(token)
        except BadToken:
            return None
        return await request.app.state.store.messages.by_message_id(message_id)

    async def page(
        request: Request, token: str, notice_key: str | None = None, status: int = 200
    ) -> HTMLResponse:
        message = await message_for(request, token)
        if message is None:
            lang = _language(None, policy.default_locale)
            html = _PAGE.render(
                w=WORDS[lang], lang=lang, notice=WORDS[lang]["invalid"], topics=None
            )
            return HTMLResponse(html, status_code=400)
        store = request.app.state.store
        contact = await store.contacts.get(message.contact_id)
        lang = _language(contact.locale if contact else None, policy.default_locale)
        states = await Engagement(store, policy).topics(message.contact_id)
        channels = await channel_states(store, policy, message.contact_id, lang)
        topics = [
            {
                "name": name,
                "label": topic.label(lang),
                "on": states[name] == GRANTED,
                "pending": states[name] == PENDING,
                "channels": channels[name],
            }
            for name, topic in policy.topics.items()
        ]
        html = _PAGE.render(
            w=WORDS[lang],
            lang=lang,
            topics=topics,
            action=f"/u/{token}/preferences",
            notice=WORDS[lang][notice_key] if notice_key else None,
        )
        return HTMLResponse(html, status_code=status)

    @router.get("/u/{token}", response_class=HTMLResponse, summary="Preference centre")
    async def show(token: str, request: Request) -> HTMLResponse:
        return await page(request, token)

    @router.post("/u/{token}/preferences", response_class=HTMLResponse)
    async def save(token: str, request: Request) -> HTMLResponse:
        message = await message_for(request, token)
        if message is None:
            return await page(request, token)
        form = await request.form()
        engagement = Engagement(request.app.state.store, policy)
        proof = client_proof(request)
        contact_id = message.contact_id
        if form.get("action") == "leave":
            await engagement.withdraw(
                contact_id, ALL_TOPICS, source="preference_centre", message=message, **proof
            )
            await save_channels(request.app.state.store, policy, message, None, dict(proof))
            kick_relay(request.app, contact_id)  # the Unsubscribed ends journeys now
            return await page(request, token, "left")
        wanted = {str(v) for v in form.getlist("topic")}
        states = await engagement.topics(contact_id)
        for name in policy.topics:
            if name in wanted and states[name] not in (GRANTED, PENDING):
                double = not policy.single_opt_in(name)
                ledger_id = await engagement.grant(
                    contact_id, name, source="preference_centre", pending=double, **proof
                )
                if double and confirm is not None:
                    await confirm(contact_id, name, ledger_id)
            elif name not in wanted and states[name] in (GRANTED, PENDING):
                await engagement.withdraw(
                    contact_id, name, source="preference_centre", message=message, **proof
                )
        await save_channels(request.app.state.store, policy, message, form, dict(proof))
        kick_relay(request.app, contact_id)  # withdrawals and opt-in requests route now
        return await page(request, token, "saved")

    @router.get("/optin/{token}", response_class=HTMLResponse, summary="Confirm a subscription")
    async def optin_page(token: str) -> HTMLResponse:
        lang = _language(None, policy.default_locale)
        try:
            links.optin(token)
        except (BadToken, ValueError):
            html = _PAGE.render(
                w=WORDS[lang], lang=lang, notice=WORDS[lang]["invalid"], topics=None
            )
            return HTMLResponse(html, status_code=400)
        html = _PAGE.render(
            w={**WORDS[lang], "title": WORDS[lang]["confirm_title"]},
            lang=lang,
            topics=None,
            confirm_action=f"/optin/{token}",
        )
        return HTMLResponse(html)

    @router.post("/optin/{token}", response_class=HTMLResponse)
    async def optin_confirm(token: str, request: Request) -> HTMLResponse:
        lang = _language(None, policy.default_locale)
        try:
            ledger_id, topic, contact_id = links.optin(token)
        except (BadToken, ValueError):
            html = _PAGE.render(
                w=WORDS[lang], lang=lang, notice=WORDS[lang]["invalid"], topics=None
            )
            return HTMLResponse(html, status_code=400)
        store = request.app.state.store
        state = (await store.consent.state(contact_id)).get(topic)
        # Only the request this link was made for: a later withdrawal is not undone by an old link.
        if state is not None and state[0] == PENDING and state[1] == ledger_id:
            await Engagement(store, policy).grant(
                contact_id, topic, source="double_opt_in", **client_proof(request)
            )
        elif state is None or state[0] != GRANTED:
            html = _PAGE.render(
                w=WORDS[lang], lang=lang, notice=WORDS[lang]["invalid"], topics=None
            )
            return HTMLResponse(html, status_code=409)
        html = _PAGE.render(w=WORDS[lang], lang=lang, notice=WORDS[lang]["confirmed"], topics=None)
        return HTMLResponse(html)

    return router
