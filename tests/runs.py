"""Every run of a workflow that continues as new, read back from Temporal."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

CONTINUED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW


async def run_histories(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """The history of each run of ``workflow_id``, first run first (follows continue-as-new)."""
    desc = await client.get_workflow_handle(workflow_id).describe()
    run_id: str | None = desc.raw_description.workflow_execution_info.first_run_id
    histories = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        run_id = next(
            (
                e.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                for e in history.events
                if e.event_type == CONTINUED
            ),
            None,
        )
    return histories


def size(history: WorkflowHistory) -> int:
    """Bytes of a history's events, as Temporal stores them."""
    return sum(e.ByteSize() for e in history.events)
