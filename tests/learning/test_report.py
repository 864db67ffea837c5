"""``sojourn report``: JSON and table on a seeded store, and the HTML page in headless Chromium.

A screenshot of the page goes to ``var/test-artifacts/report.png``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from store import Store
from tests.learning.seed import EXPERIMENT, HELLO, seed
from tests.test_cli import cli_env
from worker.cli import app
from worker.settings import Settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
runner = CliRunner()


async def invoke(args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    """The CLI in a thread of its own: it runs its own event loop."""
    return await asyncio.to_thread(runner.invoke, app, args, env=env)


@pytest.fixture
async def seeded(store: Store) -> datetime:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    await seed(store, start)
    return start


async def test_report_json_figures_on_a_seeded_store(settings: Settings, seeded: datetime) -> None:
    env = cli_env(settings, SOJOURN_MESSAGE_COSTS='{"email": 0.25}')
    result = await invoke(["report", "--json", "--since", "30d"], env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    [welcome] = report["journeys"]
    assert welcome["entered"] == 8
    total = welcome["total"]
    assert (total["sent"], total["converted"], total["revenue"]) == (7, 3, 200.0)
    assert total["cost"] == pytest.approx(1.75)
    assert total["roi"] == pytest.approx((200 - 1.75) / 1.75)
    assert welcome["holdout"]["treated"] == 6 and welcome["holdout"]["holdout"] == 2
    [email] = welcome["channels"]
    assert (email["channel"], email["sent"], email["cost"]) == ("email", 7, pytest.approx(1.75))
    assert report["channels"][0]["revenue"] == 200.0
    [experiment] = report["experiments"]
    assert experiment["name"] == EXPERIMENT
    # Welcome declares it: its criteria, not a guess.
    assert (experiment["min_sample"], experiment["horizon"]) == (500, 20_000)
    assert {a["name"] for a in experiment["arms"]} == {"plain", "question"}
    # A later period leaves the seeded story out; --cost overrides the settings.
    later = await invoke(["report", "--json", "--since", "2d"], env)
    assert json.loads(later.stdout)["journeys"] == []
    cheap = await invoke(["report", "--json", "--cost", "email=1"], env)
    assert json.loads(cheap.stdout)["journeys"][0]["total"]["cost"] == pytest.approx(7.0)


async def test_report_table_names_steps_arms_and_the_experiment(
    settings: Settings, seeded: datetime
) -> None:
    result = await invoke(["report", "--journey", "welcome"], cli_env(settings))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "welcome: 8 entered" in out
    assert HELLO in out and "question" in out and "total" in out
    assert f"experiment {EXPERIMENT}" in out and "running" in out
    assert "at least 500 an arm" in out and "channel" in out
    assert "holdout:" in out
    bad = await invoke(["report", "--since", "yesterday"], cli_env(settings))
    assert bad.exit_code == 1 and "--since" in bad.output


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
async def test_the_html_report_works_offline_in_chromium(
    settings: Settings, seeded: datetime, tmp_path: Path
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api", reason="playwright missing")
    page_file = tmp_path / "report.html"
    result = await invoke(["report", "--html", str(page_file)], cli_env(settings))
    assert result.exit_code == 0, result.output
    html = page_file.read_text()
    assert "<script" not in html and "http://" not in html and "https://" not in html
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = await browser.new_context(offline=True)
            page = await context.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            await page.goto(page_file.as_uri())
            assert "Sojourn report" in await page.title()
            charts = await page.locator("svg").count()
            assert charts >= 4  # funnel, rates over time, holdout lift, experiment arms
            funnel = page.locator('svg[aria-label="welcome funnel"] rect')
            assert await funnel.count() == 4  # entered, two steps, goal
            widths = [float(await r.get_attribute("width") or 0) for r in await funnel.all()]
            assert widths[0] == max(widths) and all(w > 0 for w in widths)
            arms = page.locator(f'svg[aria-label="{EXPERIMENT} arms"] circle')
            assert await arms.count() == 2
            text = await page.inner_text("body")
            assert "Holdout lift" in text and "running: no winner yet" in text
            assert [u for u in requests if not u.startswith("file:")] == []
            await page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            await browser.close()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--since", "99999999d"],
            "--since '99999999d' reaches before the year 1",
        ),  # OverflowError
        (["--since", "2999-01-01"], "is in the future"),  # an empty report, silently
        (["--cost", "email=abc"], "--cost email='abc': give the cost of one message"),  # ValueError
        (["--cost", "email=[1]"], "--cost email=[1]"),  # TypeError
        (["--cost", "email=-1"], "--cost email=-1"),  # a negative cost, taken
        (["--cost", "email=NaN"], "--cost email=nan"),
        (["--cost", "fax=1"], "no channel 'fax' (channels: email, sms, push, audience)"),
        (["--journey", "welcom"], "--journey 'welcom': no such journey (journeys: birthday"),
        (["--html", "."], "--html . is a folder"),  # IsADirectoryError after the report ran
        (["--html", "missing/r.html"], "there is no folder missing"),
    ],
)
def test_bad_report_options_say_what_to_do(
    settings: Settings, args: list[str], says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(settings.var_dir.parent)
    result = runner.invoke(app, ["report", *args], env=cli_env(settings))
    assert result.exit_code == 1, result.output
    assert says in result.stderr and "Traceback" not in result.output
