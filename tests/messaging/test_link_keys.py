"""Link keys rotate, preference links expire, one-click unsubscribe does not, and no token
shows an id in clear."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import httpx
import pytest

from activities.links import UNSUBSCRIBE, Links
from activities.policy import MessagingPolicy
from activities.sending import SendActivities
from activities.tokens import BadToken
from store import Store
from tests.messaging.conftest import BASE, add_contact, request, send

OLD, NEW = "o" * 32, "n" * 32
YEAR = 365 * 24 * 3600


def links(*keys: str) -> Links:
    return Links(MessagingPolicy(public_url=BASE, secret_key=keys[0], secret_keys=list(keys)))


def legacy_token(secret: str, purpose: str, value: str) -> str:
    """A token as Sojourn made them before (value in clear): links already in mailboxes."""
    key = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()
    mac = hmac.new(key, value.encode(), hashlib.sha256).digest()[:16]
    b64 = base64.urlsafe_b64encode
    return f"{b64(value.encode()).decode().rstrip('=')}.{b64(mac).decode().rstrip('=')}"


def test_rotation_keeps_old_links_until_the_old_key_is_dropped() -> None:
    before = links(OLD).unsubscribe_token("m-1")
    rotated = links(NEW, OLD)
    assert rotated.unsubscribe_message(before) == "m-1"
    after = rotated.unsubscribe_token("m-2")
    assert links(NEW).unsubscribe_message(after) == "m-2"  # signed with the first key
    with pytest.raises(BadToken):
        links(OLD).unsubscribe_message(after)
    with pytest.raises(BadToken):
        links(NEW).unsubscribe_message(before)  # the old key dropped: its links end


def test_tokens_of_the_earlier_format_are_still_read_with_any_key() -> None:
    token = legacy_token(OLD, UNSUBSCRIBE, "m-legacy")
    assert links(NEW, OLD).unsubscribe_message(token) == "m-legacy"
    with pytest.raises(BadToken):
        links(NEW).unsubscribe_message(token)


def test_preference_links_expire_and_one_click_unsubscribe_does_not() -> None:
    made = links(OLD)
    token = made.signer.sign(UNSUBSCRIBE, "m-1", now=time.time() - YEAR)
    with pytest.raises(BadToken, match="expired"):
        made.preference_message(token)
    assert made.unsubscribe_message(token) == "m-1"
    fresh = made.unsubscribe_token("m-2")
    assert made.preference_message(fresh) == "m-2"
    # Six months by default, configurable.
    assert made.preference_message(token, now=time.time() - YEAR + 150 * 24 * 3600) == "m-1"


def test_no_token_shows_an_id_in_clear() -> None:
    made = links(OLD)
    contact = "grace.hopper@example.com"
    tokens = [
        made.optin_url(contact, "promotions", 4242).rsplit("/", 1)[1],
        made.unsubscribe_token("cafe1234cafe1234"),
        made.click_url("cafe1234cafe1234", "https://shop.example.com/x").rsplit("/", 1)[1],
    ]
    for token in tokens:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        for clear in (contact, "promotions", "4242", "cafe1234", "shop.example.com"):
            assert clear.encode() not in decoded and clear not in token
    assert made.optin(tokens[0]) == (4242, "promotions", contact)


def test_a_token_for_one_purpose_is_refused_for_another() -> None:
    made = links(OLD)
    with pytest.raises(BadToken):
        made.opened_message(made.unsubscribe_token("m-1"))


async def test_expired_preference_link_still_unsubscribes_in_one_click(
    store: Store, sender: SendActivities, web: httpx.AsyncClient, policy: MessagingPolicy
) -> None:
    contact = await add_contact(store)
    delivery = await send(sender, request(contact))
    old = Links(policy).signer.sign(UNSUBSCRIBE, delivery.message_id, now=time.time() - YEAR)
    page = await web.get(f"/u/{old}")
    assert page.status_code == 400
    assert (await web.post(f"/u/{old}/preferences", data={"action": "leave"})).status_code == 400
    assert await store.consent.allowed(contact, "marketing")
    one_click = await web.post(f"/u/{old}", data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert not await store.consent.allowed(contact, "marketing")
