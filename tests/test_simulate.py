"""``sojourn simulate``: shipped personas load, journeys play in seconds, emails land on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeys.registry import BY_NAME
from worker.cli import app
from worker.personas import PERSONAS, load_persona, persona_files, span
from worker.simulation import simulate

SHIPPED = sorted(PERSONAS.glob("*/*.json"))


def test_durations_read_like_a_marketer_writes_them() -> None:
    assert span("2d12h").total_seconds() == 60 * 60 * 60
    assert span("30m").total_seconds() == 1800
    with pytest.raises(ValueError, match="not a duration"):
        span("soon")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shipped_persona_loads_for_a_real_journey(path: Path) -> None:
    assert path.parent.name in BY_NAME
    persona = load_persona(path.parent.name, path.stem)
    assert persona.description
    assert [s.at for s in persona.steps] == sorted(s.at for s in persona.steps)


def test_personas_ship_for_welcome_and_the_new_journeys() -> None:
    journeys = ("welcome", "nurturing", "reactivation", "birthday", "loyalty")
    for journey in (*journeys, "cart_abandonment", "cross_sell"):
        assert len(persona_files(journey)) >= 1, journey


def test_an_unknown_persona_names_the_shipped_ones() -> None:
    with pytest.raises(FileNotFoundError, match="eager"):
        load_persona("nurturing", "nobody")


async def test_a_persona_clicking_the_offer_skips_to_it_and_buys() -> None:
    sim = await simulate("nurturing", load_persona("nurturing", "eager"))
    assert sim.exit_reason == "goal"
    own = [m.template for m in sim.messages if m.journey == "nurturing"]
    assert own == ["nurturing/brand", "nurturing/offer"]
    text = [(sim.offset(line.at), line.what) for line in sim.lines]
    assert ("+0d 02:00", "Email Link Clicked about nurturing/brand") in text
    assert any(offset == "+2d 00:00" and what == "exit: goal" for offset, what in text)
    # Sent by the outbox provider into the throw-away store: rendered, never delivered out.
    assert all(m.provider == "outbox" for m in sim.messages if m.status == "sent")


def test_cli_prints_the_path_and_writes_the_emails(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    args = ["simulate", "welcome", "--persona", "opener-buyer", "--html", str(out)]
    result = CliRunner().invoke(app, args, standalone_mode=False)
    assert result.exit_code == 0, result.output
    assert "sent welcome/hello — “Bienvenue, Léa !”" in result.output
    assert "Exit: goal" in result.output
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "01-welcome-hello.html" in index
    assert "Léa" in (out / "01-welcome-hello.html").read_text(encoding="utf-8")


def test_cli_json_and_a_persona_file(tmp_path: Path) -> None:
    persona = tmp_path / "quiet.json"
    persona.write_text(json.dumps({"description": "nothing", "horizon": "3d"}), encoding="utf-8")
    args = ["simulate", "loyalty", "--persona", str(persona), "--json"]
    result = CliRunner().invoke(app, args, standalone_mode=False)
    assert result.exit_code == 0, result.output
    path = json.loads(result.output)
    assert path["exit_reason"] == "completed"
    assert [m["template"] for m in path["messages"]] == ["loyalty/reward"]


def test_cli_refuses_an_unknown_journey() -> None:
    result = CliRunner().invoke(app, ["simulate", "nope", "--persona", "x"])
    assert result.exit_code != 0


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("p.json", b"{bad", "not JSON (Expecting property name"),  # no file named
        ("p.json", b"\xff", "cannot be read as UTF-8 text"),  # no file named
        ("p.yaml", b"a: [", "not YAML at line 1"),  # a yaml.ParserError traceback
        ("p.json", b"[1]", "Input should be a valid dictionary"),  # pydantic, over lines
        ("p.json", b'{"steps": [{"at": "x", "event": "E"}]}', "steps.0.at: 'x' is not a duration"),
    ],
)
def test_cli_names_a_persona_file_that_is_not_one(
    tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    persona = tmp_path / name
    persona.write_bytes(content)
    result = CliRunner().invoke(app, ["simulate", "welcome", "--persona", str(persona)])
    assert result.exit_code == 1
    assert f"Error: persona {persona}: " in result.stderr and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def simulate_cli(*args: str) -> str:
    result = CliRunner().invoke(app, ["simulate", *args], standalone_mode=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_sold_out_item_is_offered_as_its_alternative_in_both_touches() -> None:
    out = simulate_cli("cart_abandonment", "--persona", "sold-out-swap", "--text")
    assert "shop catalog holds 3 products (shoe-trail-42 out of stock)" in out
    swap = "- Trail running shoes Pro: €139.00 (in place of Trail running shoes, out of stock)"
    assert out.count(swap) == 2  # the reminder and the discount
    assert "- Trail running shoes:" not in out  # the sold-out pair itself is never offered
    assert out.count("- Merino running socks × 2: €18.00") == 2
    assert "sent cart/reminder" in out and "sent cart/discount" in out


def test_a_cart_with_nothing_left_in_stock_sends_nothing_and_says_why() -> None:
    out = simulate_cli("cart_abandonment", "--persona", "nothing-left")
    why = "not sent: nothing left to offer (lamp-brass out of stock, no alternative in stock)"
    assert f"cart/reminder {why}" in out and f"cart/discount {why}" in out
    assert "Exit: completed; 0 emails" in out


async def test_an_order_after_the_reminder_ends_the_cart_journey() -> None:
    sim = await simulate(
        "cart_abandonment", load_persona("cart_abandonment", "buys-after-reminder")
    )
    assert sim.exit_reason == "goal"
    assert [m.template for m in sim.messages if m.journey == "cart_abandonment"] == [
        "cart/reminder"
    ]
    reminder = next(m for m in sim.messages if m.template == "cart/reminder")
    assert "Bouilloire inox" in (reminder.html or "")


async def test_a_camera_buyer_is_suggested_the_lens_and_the_bag_in_stock() -> None:
    sim = await simulate("cross_sell", load_persona("cross_sell", "camera"))
    assert [m.template for m in sim.messages] == ["cross_sell/thank_you", "cross_sell/suggestion"]
    thanks, picks = (m.html or "" for m in sim.messages)
    assert "X100 compact camera" in thanks
    assert "35 mm f/2 lens" in picks and "Rover camera bag" in picks
    assert "Leather strap" not in picks  # out of stock


def test_a_persona_catalog_the_store_refuses_names_the_field(tmp_path: Path) -> None:
    persona = tmp_path / "bad.json"
    body = {"description": "x", "catalog": [{"id": "p1", "name": "No price", "currency": "EUR"}]}
    persona.write_text(json.dumps(body), encoding="utf-8")
    result = CliRunner().invoke(app, ["simulate", "cart_abandonment", "--persona", str(persona)])
    assert result.exit_code != 0
    assert "catalog.0.price" in result.output
