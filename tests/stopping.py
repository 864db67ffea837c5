"""Ending a journey a test leaves running, without freezing the time-skipping server's clock."""

from __future__ import annotations

import asyncio

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

# The last event of a history whose workflow task is out (scheduled, or taken by a worker).
TASK_OUT = frozenset(
    {EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED}
)


async def _running(handle: WorkflowHandle) -> bool:
    try:
        described = await handle.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:  # never started, e.g. a journey not entered
            return False
        raise
    return described.status is not None and described.status.name == "RUNNING"


async def _busy(handle: WorkflowHandle) -> bool:
    described = await handle.describe()
    if described.raw_description.pending_activities:
        return True
    history = await handle.fetch_history()
    return bool(history.events) and history.events[-1].event_type in TASK_OUT


async def terminate_when_idle(handle: WorkflowHandle, timeout: float = 10) -> None:
    """Terminate ``handle``'s workflow, if it runs, once no task or activity is in flight.

    The test server locks its clock while a workflow task is out and unlocks it when the task
    completes. Terminated mid-task, the worker's completion is refused ("Completed workflow"),
    the unlock never comes, and every later ``sleep`` of the module's environment times out
    (``Timeout expired``): tests/workflows/test_cart.py failed so about one run in three.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await _running(handle) and await _busy(handle):
        if loop.time() > deadline:
            raise TimeoutError(f"{handle.id} still had work in flight after {timeout} s")
        await asyncio.sleep(0.05)
    if await _running(handle):
        await handle.terminate("test over")
