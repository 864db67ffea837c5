"""``sojourn outbox --channel`` and ``templates preview --channel sms`` (segments shown)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from activities.policy import MessagingPolicy
from store import Store
from tests.channels.conftest import add_contact, grant_sms, make_sender, send, send_request
from tests.test_cli import cli_env
from worker.cli import app
from worker.settings import Settings

runner = CliRunner()


async def _sent(settings: Settings, policy: MessagingPolicy) -> tuple[str, str]:
    store = Store.from_url(settings.database_url)
    try:
        await store.migrate()
        sender = make_sender(store, policy, settings.outbox_path.parent)
        contact = await add_contact(store)
        await grant_sms(store, contact)
        email = await send(sender, send_request(contact, channel="email"))
        sms = await send(sender, send_request(contact))
        return email.message_id, sms.message_id
    finally:
        await store.close()


async def _contact(settings: Settings, **traits: str) -> str:
    store = Store.from_url(settings.database_url)
    try:
        await store.migrate()
        return await add_contact(store, **traits)
    finally:
        await store.close()


def test_outbox_lists_every_channel_and_filters_by_one(
    settings: Settings, policy: MessagingPolicy
) -> None:
    email_id, sms_id = asyncio.run(_sent(settings, policy))
    env = cli_env(settings, SOJOURN_OUTBOX_DIR=str(settings.outbox_path.parent / "outbox"))
    every = json.loads(runner.invoke(app, ["outbox", "--json"], env=env).output)
    assert {row["channel"] for row in every} == {"email", "sms"}
    only = runner.invoke(app, ["outbox", "--json", "--channel", "sms"], env=env)
    [row] = json.loads(only.output)
    assert row["message_id"] == sms_id and row["to"] == "+33612345678"
    assert "STOP" in row["text"] and Path(row["eml"]).name.endswith(".sms.json")
    assert Path(row["eml"]).exists()
    table = runner.invoke(app, ["outbox", "--channel", "email"], env=env)
    assert email_id in table.output and sms_id not in table.output


def test_preview_shows_the_sms_and_its_segments(settings: Settings) -> None:
    contact = asyncio.run(_contact(settings, locale="fr"))
    env = cli_env(settings)
    shown = runner.invoke(
        app,
        [
            "templates",
            "preview",
            "cart_escalation/reminder",
            "--contact",
            contact,
            "--channel",
            "sms",
        ],
        env=env,
    )
    assert shown.exit_code == 0, shown.output
    assert "votre panier" in shown.output and "STOP au 36111" in shown.output
    assert "Length: 1 segment (GSM-7" in shown.output
    push = runner.invoke(
        app,
        [
            "templates",
            "preview",
            "cart_escalation/reminder",
            "--contact",
            contact,
            "--channel",
            "push",
        ],
        env=env,
    )
    assert "Title: Votre panier vous attend" in push.output
