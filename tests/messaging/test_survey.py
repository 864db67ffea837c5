"""Survey links (gateway/survey.py) and the sunset state's way back (store/sunset.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from activities.engagement import Engagement
from activities.links import Links
from activities.policy import MessagingPolicy
from activities.sending import SendActivities
from gateway.intake import Intake
from gateway.models import Track
from gateway.survey import make_survey_router
from store import Store
from store.sunset import lift_sunset, sunset_topics
from tests.messaging.conftest import BASE, add_contact, request, send


@pytest.fixture
async def web(store: Store, policy: MessagingPolicy) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.store = store
    app.include_router(make_survey_router(policy))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def answers(store: Store, contact_id: str) -> list[dict[str, object]]:
    return [
        e.properties
        for e in await store.events.unrouted(100)
        if e.contact_id == contact_id and e.name == "Survey Answered"
    ]


async def test_one_click_records_one_answer_per_message(
    web: httpx.AsyncClient, store: Store, sender: SendActivities, policy: MessagingPolicy
) -> None:
    contact = await add_contact(store)
    delivery = await send(sender, request(contact, "reactivation/survey"))
    message = await store.messages.by_message_id(delivery.message_id)
    assert message is not None and message.html
    # The survey links stay on the gateway: never rewritten into click redirects. The token
    # is dated to the second, so read it from the message rather than signing it again.
    found = re.search(rf'href="({re.escape(BASE)}/s/([^/"]+))/too_expensive"', message.html)
    assert found, "the survey answer link is in the message, not a click redirect"
    base, token = found.groups()
    assert Links(policy).survey_message(token) == message.message_id
    path = base.removeprefix(BASE)
    page = await web.get(f"{path}/too_expensive")
    assert page.status_code == 200 and "<form" in page.text
    assert await answers(store, contact) == [], "a GET (a link scanner) records nothing"
    assert (await web.post(f"{path}/too_expensive")).status_code == 200
    assert (await web.post(f"{path}/other")).status_code == 200
    [answer] = await answers(store, contact)
    assert answer["answer"] == "too_expensive"
    assert answer["email_id"] == message.message_id


async def test_forged_or_odd_survey_links_are_refused(
    web: httpx.AsyncClient, policy: MessagingPolicy
) -> None:
    path = Links(policy).survey_url("no-such-message").removeprefix(BASE)
    assert (await web.post(f"{path}/other")).status_code == 400
    assert (await web.post("/s/forged-token/other")).status_code == 400
    assert (await web.get(f"{path}/<script>")).status_code in (400, 404)


async def test_sunset_is_lifted_by_a_sign_up_but_not_an_unsubscribe(
    store: Store, policy: MessagingPolicy
) -> None:
    at = datetime.now(UTC)
    sunset, unsubscribed = await add_contact(store), await add_contact(store)
    engagement = Engagement(store, policy)
    await engagement.withdraw(sunset, "marketing", source="sunset")
    await engagement.withdraw(unsubscribed, "marketing", source="unsubscribe_link")
    assert await sunset_topics(store.consent, sunset) == ["marketing"]
    assert await sunset_topics(store.consent, unsubscribed) == []
    assert await lift_sunset(store.consent, unsubscribed, at) == []
    assert not await store.consent.allowed(unsubscribed, "marketing")
    # Through the gateway's intake, as an app's `Signed Up` arrives.
    await Intake(store).store_call(Track(userId=sunset, event="Signed Up"))
    assert await store.consent.allowed(sunset, "marketing")
    assert [e.source for e in await store.consent.history(sunset)][-1] == "signup"


async def test_an_explicit_opt_in_brings_a_sunset_contact_back(
    store: Store, policy: MessagingPolicy
) -> None:
    contact = await add_contact(store)
    engagement = Engagement(store, policy)
    await engagement.withdraw(contact, "marketing", source="sunset")
    await engagement.grant(contact, "marketing", source="preference_centre")
    assert await store.consent.allowed(contact, "marketing")
    assert await sunset_topics(store.consent, contact) == []
