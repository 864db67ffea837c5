"""Ending a journey a test leaves running, without freezing the time-skipping server's clock."""

from __future__ import annotations

import asyncio
from typing import Literal

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

# The last event of a history whose workflow task is out (scheduled, or taken by a worker).
TASK_OUT = frozenset(
    {EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED}
)


async def _state(handle: WorkflowHandle) -> Literal["over", "busy", "idle"]:
    """``"over"`` (closed, or never started), ``"busy"`` (a task or activity out) or ``"idle"``."""
    try:
        described = await handle.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:  # never started, e.g. a journey not entered
            return "over"
        raise
    if described.status is None or described.status.name != "RUNNING":
        return "over"
    if described.raw_description.pending_activities:
        return "busy"
    history = await handle.fetch_history()
    return "busy" if history.events and history.events[-1].event_type in TASK_OUT else "idle"


async def terminate_when_idle(handle: WorkflowHandle, timeout: float = 10) -> None:
    """Terminate ``handle``'s workflow, if it runs, once no task or activity is in flight.

    The test server locks its clock while a workflow task is out and unlocks it when the task
    completes. Terminated mid-task, the worker's completion is refused ("Completed workflow"),
    the unlock never comes, and every later ``sleep`` of the module's environment times out
    (``Timeout expired``): tests/workflows/test_cart.py failed so about one run in three.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (state := await _state(handle)) == "busy":
        if loop.time() > deadline:
            raise TimeoutError(f"{handle.id} still had work in flight after {timeout} s")
        await asyncio.sleep(0.05)
    if state == "idle":
        await handle.terminate("test over")
