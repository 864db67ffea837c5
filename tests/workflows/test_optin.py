"""Double opt-in end to end: the preference centre asks, a journey mails, the link confirms."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from urllib.parse import urlsplit

import httpx
from temporalio.service import RPCError

from activities.links import Links
from activities.optin_models import OPTIN_REQUESTED
from activities.policy import MessagingPolicy
from gateway.app import create_app
from gateway.relay import EventRouter
from tests.workflows.conftest import Harness
from worker.settings import Settings
from workflows.models import Event, ExitReason
from workflows.search import CONTACT_ID, DEV_KEYS

JOURNEY = "consent_confirmation"


@asynccontextmanager
async def gateway(h: Harness, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app with its relay routing through the harness's router."""

    async def factory() -> EventRouter:
        return h.router

    fast = settings.model_copy(update={"relay_interval_seconds": 0.05})
    app = create_app(fast, store=h.store, router_factory=factory)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway") as web,
    ):
        yield web


async def confirmations(h: Harness) -> list[str]:
    return [m.status for m in await h.messages() if m.template == "consent/confirm"]


async def test_a_double_opt_in_is_confirmed_by_an_email_a_journey_sent(
    make_harness: Callable[..., AbstractAsyncContextManager[Harness]], settings: Settings
) -> None:
    async with make_harness() as h, gateway(h, settings) as web:
        await h.identify()
        await h.event("Signed Up")
        await h.until(lambda: _has(h, "welcome/hello"), "the welcome email")
        [hello] = await h.messages()
        policy = MessagingPolicy.from_settings(settings)
        preferences = urlsplit(Links(policy).unsubscribe_url(hello.message_id)).path
        form = {"topic": ["marketing", "promotions"], "action": "save"}
        assert (await web.post(f"{preferences}/preferences", data=form)).status_code == 200

        await h.until(lambda: _stay_done(h, None), "the confirmation journey to end")
        assert await confirmations(h) == ["sent"]
        handle = h.handle(JOURNEY)
        result = await handle.result()
        assert result.exit_reason is ExitReason.completed
        assert [(m.template, m.status) for m in result.sent] == [("consent/confirm", "sent")]
        desc = await handle.describe()
        assert desc.typed_search_attributes.get(CONTACT_ID) == DEV_KEYS.key(h.contact)
        assert desc.id == DEV_KEYS.workflow_id(JOURNEY, h.contact)

        # The relay delivering the request again (at-least-once) starts a new stay that finds
        # the ledger row sent: still one email.
        request = next(
            e for e in await h.store.events.for_contact(h.contact) if e.name == OPTIN_REQUESTED
        )
        await h.router.route(
            h.contact,
            Event(
                message_id=request.message_id, name=OPTIN_REQUESTED, properties=request.properties
            ),
        )
        await h.until(lambda: _stay_done(h, desc.run_id), "the repeated request to be handled")
        assert await confirmations(h) == ["sent"]

        [confirm] = [m for m in await h.messages() if m.template == "consent/confirm"]
        assert confirm.html is not None
        [token] = set(re.findall(r"/optin/([\w.-]+)", confirm.html))
        ledger_id = request.properties["ledger_id"]
        assert Links(policy).optin(token) == (ledger_id, "promotions", h.contact)
        assert not await h.store.consent.allowed(h.contact, "promotions", default=False)
        assert (await web.post(f"/optin/{token}")).status_code == 200
        assert await h.store.consent.allowed(h.contact, "promotions", default=False)


async def _has(h: Harness, template: str) -> bool:
    return template in await h.sent_templates()


async def _stay_done(h: Harness, not_run: str | None) -> bool:
    """Has a stay other than ``not_run`` completed? (False while none was started yet)"""
    try:
        desc = await h.handle(JOURNEY).describe()
    except RPCError:
        return False  # not routed yet, or between the old stay and the new one
    return desc.run_id != not_run and desc.status is not None and desc.status.name == "COMPLETED"
