"""``sojourn journeys replay``: history files, and running journeys on a real dev server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner, Result

from journeys.welcome import Welcome
from store import Store
from tests.histories.recorder import ROOT
from tests.histories.variants import PausedWelcome
from tests.ports import free_port
from worker import registry
from worker.cli import app
from worker.dev import temporal_binary
from worker.registry import Activities
from worker.settings import Settings
from workflows import search
from workflows.models import Event
from workflows.routing import Router
from workflows.search import DEV_KEYS

runner = CliRunner()
WELCOME = ROOT / "welcome"


def changed_welcome(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deploy a welcome with a new step before its first send, not behind ``patched()``."""
    workflows = [PausedWelcome if w is Welcome else w for w in registry.WORKFLOWS]
    monkeypatch.setattr(registry, "WORKFLOWS", tuple(workflows))


def replay(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(
        app, ["journeys", "replay", *args], env={"SOJOURN_ENV": "test", **(env or {})}
    )


def test_saved_welcome_histories_replay_on_this_code() -> None:
    answer = replay(str(WELCOME), "--verbose")
    assert answer.exit_code == 0, answer.output
    files = sorted(WELCOME.glob("*.json"))
    assert f"{len(files)} of {len(files)} histories replay" in answer.output
    assert all(f.name in answer.output for f in files)


def test_a_step_before_the_first_send_fails_naming_each_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changed_welcome(monkeypatch)
    answer = replay(str(WELCOME))
    assert answer.exit_code == 1
    for file in WELCOME.glob("*.json"):
        assert f"BREAKS  welcome ({file}" in answer.output
    assert "Nondeterminism" in answer.output


def test_json_lists_every_history(monkeypatch: pytest.MonkeyPatch) -> None:
    changed_welcome(monkeypatch)
    [file, *_] = sorted(WELCOME.glob("*.json"))
    answer = replay(str(file), "--json")
    assert answer.exit_code == 1
    assert '"ok": false' in answer.output and file.name in answer.output


def test_a_missing_file_is_named() -> None:
    answer = replay("no/such/history.json")
    assert answer.exit_code == 1 and "no/such/history.json" in answer.output


@pytest.mark.parametrize(
    "content",
    [
        b"userId,email\n",  # not JSON: a JSONDecodeError traceback
        b"\xff\xfe",  # not UTF-8: a UnicodeDecodeError traceback
        b"{}",  # no events: a ValueError traceback
        b'{"events": [{"eventId": "1"}]}',  # "BREAKS ? ... no workflow named '?'"
    ],
)
def test_a_file_that_is_no_history_is_named(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "export.json"
    bad.write_bytes(content)
    answer = replay(str(WELCOME), str(bad))
    assert answer.exit_code == 1
    assert f"{bad} is not a workflow history" in answer.output
    assert "temporal workflow show --output json" in answer.output
    assert "Traceback" not in answer.output and "BREAKS" not in answer.output


def test_a_folder_without_histories_is_not_a_pass(tmp_path: Path) -> None:
    # "0 of 0 histories replay on this code", exit 0: a deploy check that checked nothing.
    answer = replay(str(tmp_path))
    assert answer.exit_code == 1 and f"no history files (*.json) in {tmp_path}" in answer.output


def test_a_limit_below_one_is_refused() -> None:
    answer = replay("--limit", "0")
    assert answer.exit_code == 2 and "--limit" in answer.output


@pytest.fixture
async def dev_env() -> AsyncIterator[tuple[WorkflowEnvironment, int]]:
    """The Temporal CLI dev server (real visibility, which the time-skipping one lacks)."""
    port = free_port()
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        port=port,
        ui=False,
        search_attributes=search.ALL,
        dev_server_existing_path=temporal_binary(),
    )
    yield env, port
    await env.shutdown()


async def test_running_journeys_on_a_server_replay_or_break(
    dev_env: tuple[WorkflowEnvironment, int],
    store: Store,
    settings: Settings,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    env, port = dev_env
    router = Router(env.client, registry.JOURNEYS, task_queue)
    contact = f"c-{uuid.uuid4().hex[:8]}"
    await store.contacts.identify(contact, {"email": "ada@example.com"}, datetime.now(UTC))
    activities = Activities.build(store=store, router=router, settings=settings).all()
    async with Worker(
        env.client, task_queue=task_queue, workflows=list(registry.WORKFLOWS), activities=activities
    ):
        await router.route(contact, Event(message_id=uuid.uuid4().hex, name="Signed Up"))
        await until_sent(store, contact)
    query = f"WorkflowType='welcome' AND ExecutionStatus='Running' AND TaskQueue='{task_queue}'"
    await until_listed(env, query)
    cli_env = {"SOJOURN_TEMPORAL_ADDRESS": f"127.0.0.1:{port}", "SOJOURN_TASK_QUEUE": task_queue}

    # The default selection: every running workflow on the task queue.
    ok = await asyncio.to_thread(replay, "--verbose", env=cli_env)
    assert ok.exit_code == 0, ok.output
    assert f"ok      welcome ({DEV_KEYS.workflow_id('welcome', contact)} run" in ok.output

    changed_welcome(monkeypatch)
    broken = await asyncio.to_thread(replay, "--query", query, env=cli_env)
    assert broken.exit_code == 1, broken.output
    assert f"BREAKS  welcome ({DEV_KEYS.workflow_id('welcome', contact)} run" in broken.output
    assert "1 would break" in broken.output

    # The Temporal CLI's JSON export of that history is a history file the command reads.
    exported = tmp_path / "welcome.json"
    shown = await asyncio.create_subprocess_exec(
        temporal_binary(),
        "workflow",
        "show",
        "--address",
        f"127.0.0.1:{port}",
        "--workflow-id",
        DEV_KEYS.workflow_id("welcome", contact),
        "--output",
        "json",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await shown.communicate()
    assert shown.returncode == 0
    exported.write_bytes(out)
    from_file = await asyncio.to_thread(replay, str(exported))
    assert from_file.exit_code == 1 and f"BREAKS  welcome ({exported})" in from_file.output


async def until_sent(store: Store, contact: str) -> None:
    for _ in range(600):
        if await store.messages.list(contact_id=contact, status="sent"):
            return
        await asyncio.sleep(0.1)
    pytest.fail("the welcome email was never sent")


async def until_listed(env: WorkflowEnvironment, query: str) -> None:
    for _ in range(600):
        if [w async for w in env.client.list_workflows(query)]:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"visibility never listed {query}")
