"""Server work of one welcome journey against a minimal hand-written Temporal workflow.

Both do the same thing on the time-skipping server: three sends, a wait for an open, a 3-day
sleep and a 5-day wait for a purchase that never comes. Welcome assigns its holdout and
subject-line arms at entry (one local activity; the fake treats the contact and gives the
control). Same-name fake activities isolate
Temporal's share of the work. Prints history events and billable actions, and their ratios
(DESIGN.md's bar: at most 1.15x).

    python -m bench.journey_cost
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.experiment_models import ASSIGN_ARM, ArmAssigned, ArmsAssigned, AssignArms
from activities.models import (
    DELIVER_MESSAGE,
    PREPARE_MESSAGE,
    SEND_MESSAGE,
    START_JOURNEY,
    DeliverMessage,
    Delivery,
    JourneyStarted,
    PreparedMessage,
    PrepareMessage,
    SendMessage,
    StartJourney,
)
from journeys.welcome import Welcome
from workflows import search
from workflows.models import Event
from workflows.routing import Router

# Events that Temporal Cloud bills as actions (approximation used for the ratio). Two
# exceptions, after Temporal Cloud's list of actions: the upsert of ``TemporalChangeVersion``
# that ``workflow.patched()`` makes is exempt, and of markers only side effects and local
# activities are billed, not the version marker of ``patched()``. Both are printed apart.
VERSIONING_MARKER = "core_patch"
VERSIONING_ATTRIBUTE = "TemporalChangeVersion"
ACTIONS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_MARKER_RECORDED,
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
}


@activity.defn(name=PREPARE_MESSAGE)
async def prepare(request: PrepareMessage) -> PreparedMessage:
    # The template name doubles as message id, so the bench knows what an open refers to.
    return PreparedMessage(key=request.key, message_id=request.template, status="prepared")


@activity.defn(name=DELIVER_MESSAGE)
async def deliver(request: DeliverMessage) -> Delivery:
    return Delivery(message_id=request.key.rsplit("-", 1)[-1], status="sent")


@activity.defn(name=SEND_MESSAGE)
async def send(request: SendMessage) -> Delivery:
    return Delivery(message_id=request.template, status="sent")


@activity.defn(name=ASSIGN_ARM)
async def assign_arm(request: AssignArms) -> ArmsAssigned:
    # Treated, and the control of each experiment: the bench measures the journey that sends.
    return ArmsAssigned(arms=[ArmAssigned(arm=r.arms[0], via="hash") for r in request.requests])


@activity.defn(name=START_JOURNEY)
async def start_journey(request: StartJourney) -> JourneyStarted:
    return JourneyStarted(workflow_id="-", started=True)


@activity.defn(name="send_email")
async def send_email(template: str) -> str:
    return template


@workflow.defn(name="minimal_welcome")
class MinimalWelcome:
    """What an engineer would write by hand: one activity per send, a condition, timers."""

    def __init__(self) -> None:
        self.events: list[str] = []

    @workflow.signal
    def event(self, name: str) -> None:
        self.events.append(name)

    @workflow.run
    async def run(self) -> None:
        opts = {"start_to_close_timeout": timedelta(seconds=30)}
        await workflow.execute_activity(send_email, "hello", **opts)
        await workflow.wait_condition(
            lambda: "Email Opened" in self.events, timeout=timedelta(days=30)
        )
        await workflow.sleep(timedelta(days=3))
        await workflow.execute_activity(send_email, "offer", **opts)
        try:
            await workflow.wait_condition(
                lambda: "Order Completed" in self.events, timeout=timedelta(days=5)
            )
        except TimeoutError:
            await workflow.execute_activity(send_email, "reminder", **opts)


def _binary(name: str) -> str:
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def _versioning(event: HistoryEvent) -> bool:
    """The marker and search-attribute upsert ``workflow.patched()`` records."""
    if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
        return event.marker_recorded_event_attributes.marker_name == VERSIONING_MARKER
    if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        return set(fields.indexed_fields) == {VERSIONING_ATTRIBUTE}
    return False


async def _count(client: Client, workflow_id: str) -> tuple[int, int, int]:
    """History events, billable actions, and the versioning events left out of the actions."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    versioning = [e for e in history.events if _versioning(e)]
    kinds = Counter(e.event_type for e in history.events if not _versioning(e))
    actions = sum(n for k, n in kinds.items() if k in ACTIONS)
    return len(history.events), actions, len(versioning)


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=_binary("temporal-test-server"),
    )
    await search.register(env.client)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[Welcome, MinimalWelcome],
        activities=[prepare, deliver, send, start_journey, send_email, assign_arm],
    ):
        router = Router(env.client, [Welcome], queue)
        # Workflows are named by the contact's pseudonymous key, not by "bench".
        welcome_id = router.keys.workflow_id("welcome", "bench")
        await router.route("bench", Event(message_id="m1", name="Signed Up"))
        base = await env.client.start_workflow(
            MinimalWelcome.run, id="minimal-bench", task_queue=queue
        )
        await asyncio.sleep(0.5)
        await router.route(
            "bench",
            Event(message_id="m2", name="Email Opened", properties={"email_id": "welcome/hello"}),
        )
        await base.signal(MinimalWelcome.event, "Email Opened")
        await env.sleep(timedelta(days=9))
        await env.client.get_workflow_handle(welcome_id).result()
        await base.result()
        if "--events" in sys.argv:
            history = await env.client.get_workflow_handle(welcome_id).fetch_history()
            for e in history.events:
                print(EventType.Name(e.event_type))
        ours = await _count(env.client, welcome_id)
        theirs = await _count(env.client, "minimal-bench")
    await env.shutdown()
    print(f"{'':24}{'history events':>16}{'actions':>10}")
    print(f"{'minimal hand-written':24}{theirs[0]:>16}{theirs[1]:>10}")
    print(f"{'sojourn welcome':24}{ours[0]:>16}{ours[1]:>10}")
    print(f"{'ratio':24}{ours[0] / theirs[0]:>16.2f}{ours[1] / theirs[1]:>10.2f}")
    print(f"(versioning events, in the history count but not billed: {ours[2]})")


if __name__ == "__main__":
    asyncio.run(main())
