"""Record the history of every workflow a time-skipping test starts.

With ``SOJOURN_RECORD_HISTORIES=1`` the ``time_env`` fixture's client carries a
:class:`Recorder`: it notes each workflow started through the client (journeys started by the
router, by hand-overs or by enrollment, which all go through that client) with the test that
started it. When the environment's module ends, :func:`dump` writes each run's history, following
continue-as-new, to ``tests/histories/<workflow type>/<branch>.<version>.json`` in the format of
``WorkflowHistory.to_json()`` (the same as ``temporal workflow show --output json``).

A file is written only when no saved history of that branch issues the same commands, so
re-recording an unchanged journey adds nothing, and a change that alters what a journey does
adds a file next to the old ones instead of replacing them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowHandle,
    WorkflowHistory,
)

ENV_VAR = "SOJOURN_RECORD_HISTORIES"
VERSION_VAR = "SOJOURN_HISTORY_VERSION"
ROOT = Path(__file__).parent
# The folders whose code the histories record (tests and docs do not change a history).
CODE = ("workflows", "journeys", "activities", "worker")

# Events that a workflow command produced: the part of a history replay checks. Workflow tasks,
# activity progress and signals arrive at times that vary from run to run and are left out of
# the comparison that decides whether a history is new.
COMMAND_EVENTS = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
    EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_TIMER_CANCELED,
    EventType.EVENT_TYPE_MARKER_RECORDED,
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
    EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


def enabled() -> bool:
    """Whether this test run records histories."""
    return os.environ.get(ENV_VAR, "") not in ("", "0")


def interceptors() -> list[Interceptor]:
    """The client interceptors ``time_env`` uses: a fresh recorder when recording, else none."""
    return [Recorder()] if enabled() else []


@dataclass
class Started:
    """One workflow run a test started."""

    workflow_id: str
    run_id: str
    workflow_type: str
    test: str


@dataclass
class Recorder(Interceptor):
    """A client interceptor that notes every workflow started through the client."""

    started: list[Started] = field(default_factory=list)

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Outbound(next, self)


class _Outbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, recorder: Recorder) -> None:
        super().__init__(next)
        self.recorder = recorder

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        handle = await super().start_workflow(input)
        if handle.result_run_id:
            self.recorder.started.append(
                Started(input.id, handle.result_run_id, input.workflow, current_test())
            )
        return handle


def current_test() -> str:
    """The running test's node id, which pytest keeps in ``PYTEST_CURRENT_TEST``."""
    return os.environ.get("PYTEST_CURRENT_TEST", "unknown").rsplit(" (", 1)[0]


def branch_name(test: str) -> str:
    """``tests/workflows/test_welcome.py::test_click[x]`` → ``welcome--click-x``."""
    module, _, name = test.partition("::")
    stem = Path(module).stem.removeprefix("test_")
    name = name.removeprefix("test_").replace("::", "-").replace("[", "-").rstrip("]")
    return re.sub(r"[^A-Za-z0-9_-]+", "_", f"{stem}--{name}")


def code_version() -> str:
    """Today's date and the commit the journeys ran from (``-dirty`` if their code is edited)."""
    version = os.environ.get(VERSION_VAR)
    if not version:
        version = git("rev-parse", "--short=7", "HEAD") or "nogit"
        if git("status", "--porcelain", "--", *CODE):
            version += "-dirty"
    return f"{datetime.now(UTC):%Y%m%d}-{version}"


def git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout.strip()


def commands(events: Any) -> list[str]:
    """What the workflow did, in order: the fingerprint that decides whether a history is new.

    It starts with how a fresh run got its entry event, when it came in the start's input
    (since the router stopped using signal-with-start): a change to how a journey reads its
    input must replay both shapes, so both are kept.
    """
    out = []
    for event in events[:1]:
        if event.HasField("workflow_execution_started_event_attributes"):
            out += start_shape(event.workflow_execution_started_event_attributes)
    for event in events:
        if event.event_type not in COMMAND_EVENTS:
            continue
        out.append(EventType.Name(event.event_type) + detail(event))
    return out


def start_shape(started: Any) -> list[str]:
    """``["ENTRY_IN_INPUT"]`` for a fresh run started with events in its input, else ``[]``."""
    if started.continued_execution_run_id or not started.input.payloads:
        return []
    try:
        first = json.loads(started.input.payloads[0].data)
    except ValueError:
        return []  # not plain JSON (an encrypted payload): no shape to tell
    return ["ENTRY_IN_INPUT"] if isinstance(first, dict) and first.get("inbox") else []


def detail(event: HistoryEvent) -> str:
    if event.HasField("activity_task_scheduled_event_attributes"):
        return ":" + event.activity_task_scheduled_event_attributes.activity_type.name
    if event.HasField("marker_recorded_event_attributes"):
        return ":" + event.marker_recorded_event_attributes.marker_name
    return ""


def saved_commands(path: Path) -> list[str]:
    """The fingerprint of a saved history file."""
    history = WorkflowHistory.from_json("saved", path.read_text())
    return commands(history.events)


async def runs(client: Client, started: Started) -> list[WorkflowHistory]:
    """The history of a started run and of every run it continued as new into."""
    out = []
    run_id: str | None = started.run_id
    while run_id:
        handle = client.get_workflow_handle(started.workflow_id, run_id=run_id)
        history = await handle.fetch_history()
        out.append(history)
        last = history.events[-1] if history.events else None
        run_id = None
        if last is not None and last.HasField(
            "workflow_execution_continued_as_new_event_attributes"
        ):
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return out


def save(history: WorkflowHistory, folder: Path, branch: str, version: str) -> Path | None:
    """Write ``history`` unless a saved one of the branch issues the same commands."""
    folder.mkdir(parents=True, exist_ok=True)
    mine = commands(history.events)
    for existing in sorted(folder.glob(f"{branch}.*.json")):
        if saved_commands(existing) == mine:
            return None
    path = folder / f"{branch}.{version}.json"
    n = 2
    while path.exists():  # same version recorded twice with a different outcome: keep both
        path = folder / f"{branch}.{version}~{n}.json"
        n += 1
    path.write_text(history.to_json() + "\n")
    return path


async def dump(client: Client, root: Path = ROOT) -> list[Path]:
    """Save the histories of every run the client's recorder saw; returns the new files."""
    recorders = [i for i in client.config()["interceptors"] if isinstance(i, Recorder)]
    if not recorders:
        return []
    version = code_version()
    written = []
    seen: dict[tuple[str, str], int] = {}
    runs_seen: set[tuple[str, str]] = set()
    for started in recorders[0].started:
        # A start that joined a running journey (signal-with-start) answers with its run.
        if (started.workflow_id, started.run_id) in runs_seen:
            continue
        runs_seen.add((started.workflow_id, started.run_id))
        for history in await runs(client, started):
            branch = branch_name(started.test)
            key = (started.workflow_type, branch)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                branch = f"{branch}-{seen[key]}"
            path = save(history, root / started.workflow_type, branch, version)
            if path is not None:
                written.append(path)
    recorders[0].started.clear()
    return written
