"""``/docs`` in a real headless Chromium (Debian's ``chromium``) with no way out to the internet.

The page used to be blank offline (Swagger UI from a CDN). Here every request that does not go
to the gateway itself is aborted and recorded: the page must render the operations from the
app's own assets, show the write-key security schemes, and ask for nothing outside; then a
person authorises with the dev key and tries a track from the page, which is stored. A
screenshot goes to ``var/test-artifacts/`` (CI keeps it as an artefact).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from store import Store
from tests.messaging.fake_providers import serve_app
from worker.settings import DEV_WRITE_KEY

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)


CALL = {"userId": "u-docs", "event": "Docs Tried", "properties": {"from": "swagger"}}


async def test_docs_render_offline_and_a_call_tried_from_them_is_stored(
    app: FastAPI, store: Store
) -> None:
    outside: list[str] = []
    async with serve_app(app, lifespan="on") as url:
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = await browser.new_page()

                async def only_the_gateway(route: Any) -> None:
                    if route.request.url.startswith(url):
                        await route.continue_()
                    else:
                        outside.append(route.request.url)
                        await route.abort()

                await page.route("**/*", only_the_gateway)
                await page.goto(f"{url}/docs")
                await page.wait_for_selector(".opblock", timeout=30_000)
                paths = await page.eval_on_selector_all(
                    ".opblock-summary-path", "nodes => nodes.map(n => n.textContent.trim())"
                )
                for call in ("identify", "track", "page", "screen", "group", "alias", "batch"):
                    assert f"/v1/{call}" in [p.replace("\u200b", "") for p in paths], paths
                await page.click("button.authorize")
                await page.wait_for_selector(".auth-container", timeout=10_000)
                schemes = await page.inner_text(".modal-ux-content")
                assert "writeKeyBasic" in schemes and "writeKeyBearer" in schemes
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=False)
                # What a person does next: authorise with the key, try a track from the page.
                basic = page.locator(".auth-container").first
                await basic.locator("input").first.fill(DEV_WRITE_KEY)
                await basic.locator("button.authorize").click()
                await page.click("button.btn-done")
                track = page.locator("#operations-events-track_v1_track_post")
                await track.locator(".opblock-summary").click()
                await track.locator("button.try-out__btn").click()
                await track.locator("textarea.body-param__text").fill(json.dumps(CALL))
                await track.locator("button.execute").click()
                live = track.locator(".live-responses-table tbody .response-col_status")
                await live.wait_for(timeout=30_000)
                assert (await live.inner_text()).strip() == "200"
            finally:
                await browser.close()
    assert outside == []
    stored = await store.events.for_contact("u-docs")
    assert [event.name for event in stored] == ["Docs Tried"]
    assert (ARTIFACTS / "api-docs.png").stat().st_size > 1000
