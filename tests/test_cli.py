"""The ``sojourn`` CLI: listings, sending to a real gateway, and errors that say what to do."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from activities.providers import OutboxProvider
from gateway.app import create_app
from store import Store
from store.records import MessageRecord
from tests.ports import free_port
from worker.cli import app
from worker.cli_journeys import print_row, visibility_query
from worker.serve import gateway_server
from worker.settings import Settings
from workflows.models import Event

WAIT = 60.0  # seconds; only reached when something is broken

runner = CliRunner()


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that points the CLI at the test's files and ports, and nowhere else."""
    env = {
        "SOJOURN_ENV": "test",
        "SOJOURN_EXPERIMENTS": "false",
        "SOJOURN_VAR_DIR": str(settings.var_dir),
        "SOJOURN_DATABASE_URL": settings.database_url,
        "SOJOURN_GATEWAY_URL": f"http://127.0.0.1:{settings.gateway_port}",
        "SOJOURN_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    env.update(extra)
    return env


def sent_message(contact_id: str, n: int) -> MessageRecord:
    return MessageRecord(
        key=f"welcome-{contact_id}/e/0{n}-welcome/hello",
        message_id=f"msg{n}",
        contact_id=contact_id,
        journey="welcome",
        step=f"0{n}-welcome/hello",
        template="welcome/hello",
        topic="marketing",
        to_address=f"{contact_id}@example.com",
        subject=f"Welcome, {contact_id}!",
        status="prepared",
        created_at=datetime(2026, 1, 1, 12, n, tzinfo=UTC),
    )


async def _fill_store(settings: Settings) -> None:
    store = Store.from_url(settings.database_url)
    try:
        await store.migrate()
        outbox = OutboxProvider(settings.outbox_path)
        for n, contact in enumerate(["ada", "bob"], start=1):
            message = await store.messages.prepare(sent_message(contact, n))
            provider_id = await outbox.send(message)
            await store.messages.mark(
                message.key,
                "sent",
                at=datetime(2026, 1, 1, 12, n, 5, tzinfo=UTC),
                provider=outbox.name,
                provider_id=provider_id,
            )
        # Prepared but never sent: not in the outbox listing.
        await store.messages.prepare(sent_message("cyd", 3))
    finally:
        await store.close()


# ---- outbox ----------------------------------------------------------------------------------


def test_outbox_json_lists_sent_messages_newest_first(settings: Settings) -> None:
    asyncio.run(_fill_store(settings))

    result = runner.invoke(app, ["outbox", "--json"], env=cli_env(settings))

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["message_id"] for r in rows] == ["msg2", "msg1"]
    bob = rows[0]
    assert bob["to"] == "bob@example.com"
    assert bob["subject"] == "Welcome, bob!"
    assert (bob["journey"], bob["step"]) == ("welcome", "02-welcome/hello")
    assert bob["sent_at"] == "2026-01-01T12:02:05+00:00"
    assert Path(bob["eml"]) == (settings.outbox_path / "msg2.eml").absolute()
    assert Path(bob["eml"]).is_file()


def test_outbox_filters_by_contact_and_limit(settings: Settings) -> None:
    asyncio.run(_fill_store(settings))
    env = cli_env(settings)

    by_contact = runner.invoke(app, ["outbox", "--json", "--contact", "ada"], env=env)
    limited = runner.invoke(app, ["outbox", "--json", "--limit", "1"], env=env)

    assert [r["message_id"] for r in json.loads(by_contact.stdout)] == ["msg1"]
    assert [r["message_id"] for r in json.loads(limited.stdout)] == ["msg2"]


def test_outbox_refuses_an_unknown_channel_and_names_empty_filters(settings: Settings) -> None:
    asyncio.run(_fill_store(settings))
    env = cli_env(settings)

    # "--channel mail" listed nothing and said "No messages sent yet": a typo hid the mail.
    typo = runner.invoke(app, ["outbox", "--channel", "mail"], env=env)
    nobody = runner.invoke(app, ["outbox", "--contact", "ghost"], env=env)

    assert typo.exit_code == 1 and "--channel 'mail': use one of email, sms" in typo.stderr
    assert nobody.exit_code == 0 and "No sent messages for contact 'ghost'." in nobody.stdout


def test_outbox_table_shows_subject_and_eml(settings: Settings) -> None:
    asyncio.run(_fill_store(settings))

    result = runner.invoke(app, ["outbox"], env=cli_env(settings))

    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.splitlines()
    assert header.split()[:4] == ["SENT", "STATUS", "TO", "SUBJECT"]
    assert "Welcome, bob!" in lines[0] and "msg2.eml" in lines[0]
    assert "2026-01-01 12:01:05" in lines[1]


def test_outbox_lists_a_send_of_unknown_outcome_as_unknown(settings: Settings) -> None:
    asyncio.run(_fill_store(settings))

    async def interrupted() -> None:
        store = Store.from_url(settings.database_url)
        try:
            message = await store.messages.prepare(sent_message("dee", 4))
            await store.messages.claim(message.key)
            await store.messages.commit(message.key, datetime(2026, 1, 1, 12, 4, tzinfo=UTC))
            await store.messages.mark(message.key, "unknown", reason="interrupted")
        finally:
            await store.close()

    asyncio.run(interrupted())
    env = cli_env(settings)
    rows = json.loads(runner.invoke(app, ["outbox", "--json"], env=env).stdout)
    table = runner.invoke(app, ["outbox"], env=env).stdout.splitlines()

    assert [(r["message_id"], r["status"]) for r in rows] == [
        ("msg4", "unknown"),
        ("msg2", "sent"),
        ("msg1", "sent"),
    ]
    assert "unknown (interrupted)" in table[1]


def test_outbox_before_anything_ran_is_empty_not_an_error(settings: Settings) -> None:
    env = cli_env(settings)

    as_json = runner.invoke(app, ["outbox", "--json"], env=env)
    as_text = runner.invoke(app, ["outbox"], env=env)

    assert (as_json.exit_code, json.loads(as_json.stdout)) == (0, [])
    assert "sojourn dev" in as_text.stdout
    assert not Path(settings.database_url.split("///", 1)[1]).exists()  # nothing created


# ---- identify / event against a real gateway -------------------------------------------------


class RecordingRouter:
    """Stands in for Temporal: records what the gateway's relay routes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Event]] = []

    async def route(self, contact_id: str, event: Event) -> None:
        self.calls.append((contact_id, event))

    async def factory(self) -> RecordingRouter:
        return self


@pytest.fixture
def gateway(settings: Settings) -> Iterator[tuple[Settings, RecordingRouter]]:
    """The real gateway app on a free port, served by uvicorn in a thread."""
    settings = settings.model_copy(
        update={"gateway_port": free_port(), "relay_interval_seconds": 0.05}
    )
    router = RecordingRouter()
    server = gateway_server(settings, create_app(settings, router_factory=router.factory))
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    # The gateway's logs would land in the CLI's captured stdout (structlog's default).
    with capture_logs():
        thread.start()
        deadline = time.monotonic() + WAIT
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.02)
        try:
            yield settings, router
        finally:
            server.should_exit = True
            thread.join(WAIT)


def eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


async def _read(settings: Settings, read: Callable[[Store], Awaitable[object]]) -> object:
    store = Store.from_url(settings.database_url)
    try:
        return await read(store)
    finally:
        await store.close()


def test_identify_posts_traits_and_prints_the_answer(
    gateway: tuple[Settings, RecordingRouter],
) -> None:
    settings, _ = gateway
    args = ["identify", "ada", "--email", "ada@example.com", "--first-name", "Ada"]
    args += ["--trait", "plan=pro", "--trait", "seats=3", "--message-id", "id-1"]

    result = runner.invoke(app, args, env=cli_env(settings))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("200 OK")
    assert json.loads(result.stdout.split("\n", 1)[1])["messageId"] == "id-1"
    contact = asyncio.run(_read(settings, lambda s: s.contacts.get("ada")))
    assert contact is not None
    assert (contact.email, contact.first_name) == ("ada@example.com", "Ada")
    assert contact.traits["plan"] == "pro" and contact.traits["seats"] == 3


def test_event_posts_a_track_call_that_reaches_the_router(
    gateway: tuple[Settings, RecordingRouter],
) -> None:
    settings, router = gateway
    args = ["event", "ada", "Order Completed", "--prop", "revenue=19.5", "--prop", "sku=A-1"]

    result = runner.invoke(app, [*args, "--message-id", "ev-1"], env=cli_env(settings))

    assert result.exit_code == 0, result.output
    eventually(lambda: bool(router.calls))
    [(contact_id, event)] = router.calls
    assert (contact_id, event.message_id, event.name) == ("ada", "ev-1", "Order Completed")
    assert event.properties == {"revenue": 19.5, "sku": "A-1"}


def test_a_refused_call_exits_1_and_shows_the_field(
    gateway: tuple[Settings, RecordingRouter],
) -> None:
    settings, _ = gateway

    result = runner.invoke(app, ["event", "ada", ""], env=cli_env(settings))

    assert result.exit_code == 1
    assert result.stdout.startswith("4")  # 400 or 422, with the gateway's explanation
    assert "event" in result.stdout


def test_send_without_a_gateway_says_to_start_one(settings: Settings) -> None:
    env = cli_env(settings, SOJOURN_GATEWAY_URL=f"http://127.0.0.1:{free_port()}")

    identify = runner.invoke(app, ["identify", "ada", "--email", "a@example.com"], env=env)
    event = runner.invoke(app, ["event", "ada", "Signed Up"], env=env)

    for result in (identify, event):
        assert result.exit_code == 1
        assert "cannot reach the gateway" in result.stderr
        assert "sojourn dev" in result.stderr and "sojourn gateway" in result.stderr


def test_bad_key_value_option_is_refused(settings: Settings) -> None:
    result = runner.invoke(app, ["identify", "ada", "--trait", "plan"], env=cli_env(settings))

    assert result.exit_code == 1
    assert "--trait wants key=value" in result.stderr


# ---- journeys status ---------------------------------------------------------------------------


def test_journeys_status_without_temporal_says_what_to_do(settings: Settings) -> None:
    for args in (["journeys", "status", "ada"], ["journeys", "status", "ada", "--json"]):
        result = runner.invoke(app, args, env=cli_env(settings))

        assert result.exit_code == 1
        assert "cannot reach Temporal" in result.stderr
        assert "make dev" in result.stderr and "SOJOURN_TEMPORAL_ADDRESS" in result.stderr


def test_visibility_query_escapes_quotes() -> None:
    assert visibility_query('a"b\\c') == 'ContactId = "a\\"b\\\\c"'


def test_journey_rows_read_like_a_story(capsys: pytest.CaptureFixture[str]) -> None:
    at = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    running = {
        "workflow_id": "welcome-ada",
        "journey": "welcome",
        "status": "RUNNING",
        "step": "01-welcome/hello",
        "start_time": at,
        "close_time": None,
        "waiting_for": "Email Opened about welcome/hello",
        "until": datetime(2026, 1, 31, 9, 0, tzinfo=UTC),
        "exit_reason": None,
        "handed_over_to": None,
        "history": [{"at": at, "step": "entered", "detail": "entered welcome"}],
        "note": None,
    }
    ended = running | {
        "status": "COMPLETED",
        "close_time": at,
        "waiting_for": None,
        "exit_reason": "goal",
        "handed_over_to": "cross_sell",
        "history": [],
    }

    print_row(running)
    print_row(ended)

    out = capsys.readouterr().out
    assert "welcome-ada  (welcome)  RUNNING" in out
    assert "waiting   for Email Opened about welcome/hello until 2026-01-31 09:00:00" in out
    assert "2026-01-01 09:00:00  entered  entered welcome" in out
    assert "exit      goal → cross_sell" in out


def test_sandbox_servers_on_a_taken_port_say_so_first(settings: Settings) -> None:
    # uvicorn's bind error came after the set-up lines it told you to paste, exit 3.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["sandbox-servers", "--port", str(port)], env=cli_env(settings))
    assert result.exit_code == 1
    assert f"port 127.0.0.1:{port} is already in use" in result.stderr and "--port" in result.stderr
    assert result.stdout == ""
