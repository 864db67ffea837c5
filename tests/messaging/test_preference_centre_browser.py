"""The preference centre in a real headless Chromium (Debian's ``chromium``).

A person opens the link from their email, unticks a topic, saves, then leaves everything. A
screenshot of the page goes to ``var/test-artifacts/`` (CI keeps it as an artefact).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from activities.policy import MessagingPolicy
from activities.sending import SendActivities
from store import Store
from tests.messaging.conftest import (
    add_contact,
    make_sender,
    messaging_app,
    request,
    send,
)
from tests.messaging.fake_providers import serve_app
from tests.ports import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)


async def test_a_person_changes_topics_and_leaves_in_chromium(
    store: Store, outbox: object, policy: MessagingPolicy
) -> None:
    port = free_port()
    policy = policy.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    sender: SendActivities = make_sender(store, outbox, policy)  # type: ignore[arg-type]
    contact = await add_contact(store, locale="fr")
    delivery = await send(sender, request(contact))
    message = await store.messages.by_message_id(delivery.message_id)
    assert message is not None
    link = message.headers["List-Unsubscribe"].split(",")[0].strip(" <>")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with serve_app(messaging_app(store, policy), port=port):
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = await browser.new_page()
                await page.goto(link)
                assert await page.title() == "Vos préférences e-mail"
                assert await page.is_checked("#topic-newsletter")
                assert not await page.is_checked("#topic-promotions")  # double opt-in
                await page.screenshot(path=str(ARTIFACTS / "preference-centre.png"), full_page=True)
                await page.uncheck("#topic-newsletter")
                await page.click("#save")
                await page.wait_for_selector("#notice")
                assert not await page.is_checked("#topic-newsletter")
                assert await page.is_checked("#topic-marketing")
                await page.screenshot(path=str(ARTIFACTS / "preference-centre-saved.png"))
                await page.click("#leave")
                await page.wait_for_selector("#notice")
                assert "plus aucun" in await page.inner_text("#notice")
                await page.screenshot(path=str(ARTIFACTS / "preference-centre-left.png"))
            finally:
                await browser.close()
    assert not await store.consent.allowed(contact, "newsletter")
    assert not await store.consent.allowed(contact, "marketing")
    assert (ARTIFACTS / "preference-centre.png").stat().st_size > 1000
