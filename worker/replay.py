"""Replay journey histories against the local code: would this change break running journeys?

A history replays when the current workflow code issues the same commands, in the same order,
as the code that wrote it. One that does not fails with Temporal's ``NondeterminismError``: a
worker running this code would fail every such journey's next workflow task. The replay test
(``tests/workflows/test_replay.py``) and ``sojourn journeys replay`` both use this module.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from worker.errors import SojournError
from worker.sandbox import WORKFLOW_RUNNER

# Histories replayed by one replayer run; bounds memory when a namespace has many journeys.
CHUNK = 100


@dataclass
class Replayed:
    """The outcome of replaying one history.

    Attributes:
        source: where the history came from (a file path, or ``workflow id / run id``).
        workflow_type: the journey (workflow type) that wrote it.
        error: why it does not replay on this code; ``None`` when it does.
    """

    source: str
    workflow_type: str
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        """One line naming the journey and the history, and the error if any."""
        what = f"{self.workflow_type} ({self.source})"
        if self.error is None:
            return f"ok      {what}"
        return f"BREAKS  {what}: {type(self.error).__name__}: {reason(self.error)}"


def reason(error: BaseException) -> str:
    """The core's own words from a replay failure, without the Rust debug dump around them."""
    text = str(error)
    found = re.search(r'message: "((?:[^"\\]|\\.)*)"', text)
    return found.group(1) if found else text


def workflow_type(history: WorkflowHistory) -> str:
    """The workflow type named by a history's first event."""
    if not history.events:
        return "?"
    first = history.events[0].workflow_execution_started_event_attributes
    return first.workflow_type.name or "?"


def load(path: Path) -> WorkflowHistory:
    """A history saved as JSON by ``WorkflowHistory.to_json()``, ``temporal workflow show
    --output json`` or the Web UI's download.

    Raises:
        SojournError: naming the file, when it cannot be read or holds no history.
    """
    try:
        history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        # Not a history: checking the others would hide that this one was never checked.
        raise _not_a_history(path, f"{type(exc).__name__}: {str(exc)[:200]}") from None
    if not history.events or not history.events[0].HasField(
        "workflow_execution_started_event_attributes"
    ):
        # Any JSON object with an "events" list parses: it read as a journey named "?" that
        # "would break", blaming the code for a file that holds no history.
        raise _not_a_history(path, "its first event is not WorkflowExecutionStarted")
    return history


def _not_a_history(path: Path, why: str) -> SojournError:
    return SojournError(
        f"{path} is not a workflow history ({why}): save it with "
        "`temporal workflow show --output json` or the Web UI's download"
    )


def files(paths: Iterable[Path]) -> Iterator[tuple[str, WorkflowHistory]]:
    """The histories in ``paths``: JSON files, or folders searched for ``*.json``."""
    for path in paths:
        found = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for file in found:
            yield str(file), load(file)


async def running(
    client: Client, query: str, limit: int | None = None
) -> AsyncIterator[tuple[str, WorkflowHistory]]:
    """The histories of the workflow runs a visibility query lists, fetched one by one."""
    async for execution in client.list_workflows(query, limit=limit):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        yield f"{execution.id} run {execution.run_id}", await handle.fetch_history()


async def replay(
    histories: Iterable[tuple[str, WorkflowHistory]] | AsyncIterable[tuple[str, WorkflowHistory]],
    workflows: Sequence[type],
    data_converter: DataConverter,
    chunk: int = CHUNK,
) -> list[Replayed]:
    """Replay every ``(source, history)`` on ``workflows``; one outcome each, in order.

    Histories are replayed ``chunk`` at a time, so a namespace with many running journeys is
    checked without holding every history in memory.
    """
    replayer = Replayer(
        workflows=list(workflows), data_converter=data_converter, workflow_runner=WORKFLOW_RUNNER
    )
    known = {getattr(w, "__temporal_workflow_definition").name for w in workflows}
    outcomes: list[Replayed] = []
    batch: list[tuple[Replayed, WorkflowHistory]] = []
    async for source, history in _aiter(histories):
        outcome = Replayed(source, workflow_type(history))
        outcomes.append(outcome)
        if outcome.workflow_type not in known:
            outcome.error = LookupError(
                f"this code has no workflow named {outcome.workflow_type!r}; removing a journey "
                "breaks its running journeys"
            )
            continue
        batch.append((outcome, history))
        if len(batch) >= chunk:
            await _replay_batch(replayer, batch)
            batch = []
    await _replay_batch(replayer, batch)
    return outcomes


async def _replay_batch(replayer: Replayer, batch: list[tuple[Replayed, WorkflowHistory]]) -> None:
    if not batch:
        return

    async def feed() -> AsyncIterator[WorkflowHistory]:
        for _, history in batch:
            yield history

    async with replayer.workflow_replay_iterator(feed()) as results:
        index = 0
        async for result in results:
            batch[index][0].error = result.replay_failure
            index += 1


async def _aiter(
    items: Iterable[tuple[str, WorkflowHistory]] | AsyncIterable[tuple[str, WorkflowHistory]],
) -> AsyncIterator[tuple[str, WorkflowHistory]]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
