"""Consent ledger, topics, transactional, suppression, List-Unsubscribe, one-click, preferences."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import httpx

from activities.links import Links
from activities.policy import MessagingPolicy
from activities.sending import SendActivities
from store import Store
from store.consent import ConsentEntry
from store.suppression import HARD_BOUNCE, Suppression, SuppressionRepo
from tests.messaging.conftest import (
    BASE,
    add_contact,
    deliver,
    messaging_app,
    prepare,
    request,
    send,
)

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


async def test_ledger_keeps_proof_and_derives_state(store: Store) -> None:
    consent = store.consent
    await consent.set(
        "c1", "newsletter", subscribed=True, source="form", at=T0,
        wording_version="signup-v3", ip="203.0.113.7", user_agent="Firefox",
    )  # fmt: skip
    await consent.set("c1", "newsletter", subscribed=False, source="api", at=T0 + timedelta(1))
    history = await consent.history("c1")
    assert [(e.status, e.source) for e in history] == [("granted", "form"), ("withdrawn", "api")]
    assert history[0].wording_version == "signup-v3" and history[0].ip == "203.0.113.7"
    assert not await consent.allowed("c1", "newsletter")
    # Leaving everything covers every topic, until a topic is granted again afterwards.
    await consent.set("c1", "*", subscribed=False, source="preference_centre", at=T0)
    assert not await consent.allowed("c1", "promotions")
    await consent.set("c1", "promotions", subscribed=True, source="form", at=T0)
    assert await consent.allowed("c1", "promotions")
    assert not await consent.allowed("c1", "product_updates")
    # Transactional messages do not need marketing consent.
    assert await consent.allowed("c1", "transactional")


async def test_double_opt_in_topic_needs_a_confirmed_grant(
    store: Store, sender: SendActivities
) -> None:
    contact = await add_contact(store)
    refused = await prepare(sender, request(contact, topic="promotions"))
    assert (refused.status, refused.reason) == ("refused", "no_consent")
    await store.consent.set(contact, "promotions", subscribed=True, source="double_opt_in", at=T0)
    assert (await send(sender, request(contact, topic="promotions"))).status == "sent"


async def test_transactional_bypasses_consent_but_not_suppression(
    store: Store, sender: SendActivities, outbox: object
) -> None:
    contact = await add_contact(store)
    await store.consent.set(contact, "*", subscribed=False, source="api", at=T0)
    assert (await send(sender, request(contact, topic="transactional"))).status == "sent"
    assert (await prepare(sender, request(contact))).reason == "unsubscribed"
    suppressed = await add_contact(store)
    await SuppressionRepo(store.engine).add(
        Suppression(
            address=f"{suppressed.upper()}@example.com", reason=HARD_BOUNCE, source="t", at=T0
        )
    )
    result = await prepare(sender, request(suppressed, topic="transactional"))
    assert (result.status, result.reason) == ("refused", "suppressed")


async def test_suppression_after_prepare_stops_the_delivery(
    store: Store, sender: SendActivities, outbox: object, tmp_path: Path
) -> None:
    contact = await add_contact(store)
    req = request(contact)
    assert (await prepare(sender, req)).status == "prepared"
    await SuppressionRepo(store.engine).add(
        Suppression(address=f"{contact}@example.com", reason="spam_complaint", source="t", at=T0)
    )
    delivery = await deliver(sender, req.key)
    assert (delivery.status, delivery.reason) == ("refused", "suppressed")
    assert not list((tmp_path / "outbox").glob("*.eml"))


async def test_marketing_email_carries_one_click_headers(
    store: Store, sender: SendActivities, tmp_path: Path, policy: MessagingPolicy
) -> None:
    contact = await add_contact(store)
    delivery = await send(sender, request(contact))
    eml = message_from_bytes((tmp_path / "outbox" / f"{delivery.message_id}.eml").read_bytes())
    header = eml["List-Unsubscribe"]
    https, mailto = (part.strip(" <>") for part in header.split(","))
    assert https.startswith(f"{BASE}/u/") and mailto.startswith("mailto:unsubscribe@")
    assert Links(policy).unsubscribe_message(https.rsplit("/", 1)[1]) == delivery.message_id
    assert eml["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The token is opaque: no contact id, address or topic in the link.
    assert contact not in header and "marketing" not in header
    receipt = await send(sender, request(contact, topic="transactional"))
    eml = message_from_bytes((tmp_path / "outbox" / f"{receipt.message_id}.eml").read_bytes())
    assert eml["List-Unsubscribe"] is None


async def _unsubscribe_link(store: Store, sender: SendActivities) -> tuple[str, str, str]:
    contact = await add_contact(store, locale="fr")
    delivery = await send(sender, request(contact))
    message = await store.messages.by_message_id(delivery.message_id)
    assert message is not None
    url = message.headers["List-Unsubscribe"].split(",")[0].strip(" <>")
    return contact, delivery.message_id, url.removeprefix(BASE)


async def test_one_click_post_unsubscribes_idempotently_without_redirect(
    store: Store, sender: SendActivities, web: httpx.AsyncClient
) -> None:
    contact, message_id, path = await _unsubscribe_link(store, sender)
    # A GET (link scanners, previews) never unsubscribes.
    page = await web.get(path)
    assert page.status_code == 200 and await store.consent.allowed(contact, "marketing")
    body = {"List-Unsubscribe": "One-Click"}
    first = await web.post(path, data=body)
    second = await web.post(path, data=body)
    assert first.status_code == second.status_code == 200
    assert "location" not in first.headers and "set-cookie" not in first.headers
    assert not await store.consent.allowed(contact, "marketing")
    ledger = await store.consent.history(contact)
    assert [(e.status, e.source, e.message_id) for e in ledger] == [
        ("withdrawn", "unsubscribe_link", message_id)
    ]
    events = [e for e in await store.events.unrouted(100) if e.contact_id == contact]
    assert [e.name for e in events] == ["Unsubscribed"]
    assert events[0].properties["email_id"] == message_id
    assert events[0].properties["topic"] == "marketing"


async def test_forged_or_altered_token_is_rejected(
    store: Store, sender: SendActivities, web: httpx.AsyncClient
) -> None:
    contact, message_id, path = await _unsubscribe_link(store, sender)
    token = path.rsplit("/", 1)[1]
    altered = f"/u/{token[:20]}{'AA' if token[20:22] != 'AA' else 'BB'}{token[22:]}"
    forged = "/u/" + Links(MessagingPolicy(secret_key="guess")).unsubscribe_token(message_id)
    for bad in (altered, forged, "/u/garbage", f"/u/{token[:-1]}", "/u/a.b"):
        assert (await web.post(bad)).status_code == 400, bad
        assert (await web.get(bad)).status_code == 400, bad
    assert await store.consent.allowed(contact, "marketing")


async def test_preference_centre_changes_topics_and_leaves_everything(
    store: Store, sender: SendActivities, web: httpx.AsyncClient
) -> None:
    contact, _, path = await _unsubscribe_link(store, sender)
    page = await web.get(path)
    assert "Vos préférences e-mail" in page.text and 'value="newsletter"' in page.text
    keep = {"topic": ["marketing", "product_updates"], "action": "save"}
    saved = await web.post(f"{path}/preferences", data=keep)
    assert saved.status_code == 200 and "enregistrés" in saved.text
    assert await store.consent.allowed(contact, "marketing")
    assert not await store.consent.allowed(contact, "newsletter")
    left = await web.post(f"{path}/preferences", data={"action": "leave"})
    assert "plus aucun" in left.text
    for topic in ("marketing", "product_updates", "newsletter"):
        assert not await store.consent.allowed(contact, topic)
    names = [
        (e.name, e.properties["topic"])
        for e in await store.events.unrouted(100)
        if e.contact_id == contact
    ]
    assert names == [("Unsubscribed", "newsletter"), ("Unsubscribed", "*")]


async def test_double_opt_in_from_preference_centre(
    store: Store, sender: SendActivities, policy: MessagingPolicy
) -> None:
    contact, _, path = await _unsubscribe_link(store, sender)
    asked: list[tuple[str, str, int]] = []

    async def confirm(contact_id: str, topic: str, ledger_id: int) -> None:
        asked.append((contact_id, topic, ledger_id))

    app = messaging_app(store, policy, confirm=confirm)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as web:
        data = {"topic": ["marketing", "newsletter", "product_updates", "promotions"]}
        page = await web.post(f"{path}/preferences", data={**data, "action": "save"})
        assert "confirmer" in page.text  # "(consultez votre boîte mail pour confirmer)"
        assert [(c, t) for c, t, _ in asked] == [(contact, "promotions")]
        assert not await store.consent.allowed(contact, "promotions", default=False)
        link = Links(policy).optin_url(contact, "promotions", asked[0][2]).removeprefix(BASE)
        assert (await web.get(link)).status_code == 200
        assert not await store.consent.allowed(contact, "promotions", default=False)
        assert (await web.post(link)).status_code == 200
        assert await store.consent.allowed(contact, "promotions", default=False)
        assert (await store.consent.history(contact))[-1].source == "double_opt_in"
        assert (await web.post(link[:-3] + "abc")).status_code == 400


async def test_a_template_error_fails_the_send_and_stores_nothing(
    store: Store, outbox: object, policy: MessagingPolicy, tmp_path: Path
) -> None:
    import pytest
    from temporalio.exceptions import ApplicationError

    from activities.rendering import Renderer
    from tests.messaging.conftest import make_sender

    (tmp_path / "t" / "en" / "promo").mkdir(parents=True)
    (tmp_path / "t" / "en" / "promo" / "x.subject.j2").write_text("Hi {{ first_name }}")
    (tmp_path / "t" / "en" / "promo" / "x.html.j2").write_text("<p>{{ coupon }}</p>")
    sender = make_sender(store, outbox, policy)  # type: ignore[arg-type]
    sender.renderer = Renderer(tmp_path / "t")
    contact = await add_contact(store)
    with pytest.raises(ApplicationError) as info:
        await prepare(sender, request(contact, template="promo/x"))
    assert info.value.type == "TemplateError" and info.value.non_retryable
    assert "promo/x" in str(info.value) and "'coupon'" in str(info.value)
    assert await store.messages.list(contact_id=contact) == []


async def test_opt_in_confirmation_is_prepared_once_and_delivered_once(
    store: Store, sender: SendActivities, policy: MessagingPolicy, tmp_path: Path
) -> None:
    from temporalio.testing import ActivityEnvironment

    from activities.optin import OptInActivities
    from activities.optin_models import PrepareOptIn
    from activities.rendering import Renderer

    contact = await add_contact(store, locale="fr")
    optin = OptInActivities(store, Renderer(), "Shop <s@sojourn.test>", policy)
    ledger_id = await store.consent.record(
        ConsentEntry(contact_id=contact, topic="promotions", status="pending", source="form", at=T0)
    )
    ask = PrepareOptIn(contact_id=contact, topic="promotions", ledger_id=ledger_id)
    first = await ActivityEnvironment().run(optin.prepare, ask)
    again = await ActivityEnvironment().run(optin.prepare, ask)
    assert first == again and first.status == "prepared"
    sent = [(await deliver(sender, first.key)).status for _ in range(2)]
    assert sent == ["sent", "sent"]
    [eml] = list((tmp_path / "outbox").glob("*.eml"))
    mail = message_from_bytes(eml.read_bytes())
    assert mail["Subject"] == "Confirmez votre inscription : Promotions"
    assert mail["List-Unsubscribe"] is None  # transactional
    stored = await store.messages.get(first.key)
    assert stored is not None and stored.html is not None
    [token] = set(re.findall(r"/optin/([\w.-]+)", stored.html))
    assert Links(policy).optin(token) == (ledger_id, "promotions", contact)


async def test_an_opt_in_request_that_was_replaced_is_not_mailed(
    store: Store, policy: MessagingPolicy
) -> None:
    from temporalio.testing import ActivityEnvironment

    from activities.optin import OptInActivities
    from activities.optin_models import PrepareOptIn
    from activities.rendering import Renderer

    contact = await add_contact(store)
    optin = OptInActivities(store, Renderer(), "Shop <s@sojourn.test>", policy)
    old, new = [
        await store.consent.record(
            ConsentEntry(
                contact_id=contact, topic="promotions", status="pending", source="form", at=T0
            )
        )
        for _ in range(2)
    ]
    stale = await ActivityEnvironment().run(
        optin.prepare, PrepareOptIn(contact_id=contact, topic="promotions", ledger_id=old)
    )
    assert (stale.status, stale.reason) == ("refused", "not_pending")
    fresh = await ActivityEnvironment().run(
        optin.prepare, PrepareOptIn(contact_id=contact, topic="promotions", ledger_id=new)
    )
    assert fresh.status == "prepared"
