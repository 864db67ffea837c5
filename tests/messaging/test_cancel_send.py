"""An exit cancels a send that has not reached the provider; after the hand-over it completes."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import journeys.registry as journeys
from activities.experiments import ExperimentActivities
from activities.handover import HandoverActivities
from activities.policy import MessagingPolicy
from activities.providers.base import Commit, no_commit
from store import Store
from store.records import MessageRecord
from tests.messaging.conftest import add_contact, make_sender
from tests.messaging.test_journeys import closed, only_message, sign_up, until
from worker.worker import HEARTBEAT_THROTTLE
from workflows.models import Event, ExitReason
from workflows.routing import Router


class Stalling:
    """A provider whose network call hangs until released, before or after its commit."""

    name = "smtp"
    idempotent = False
    resend_unknown = False

    def __init__(self, *, commit_first: bool) -> None:
        self.commit_first = commit_first
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.delivered = 0

    async def lookup(self, message: MessageRecord) -> bool | None:
        return None

    async def send(self, message: MessageRecord, commit: Commit = no_commit) -> str:
        if self.commit_first:
            await commit()
        self.started.set()
        await self.release.wait()
        if not self.commit_first:
            await commit()
        self.delivered += 1
        return "stalled-1"


@pytest.mark.parametrize("commit_first", [False, True], ids=["before-hand-over", "after"])
async def test_an_unsubscribe_cancels_a_send_in_flight_only_before_the_hand_over(
    commit_first: bool,
    time_env: WorkflowEnvironment,
    store: Store,
    task_queue: str,
    policy: MessagingPolicy,
) -> None:
    provider = Stalling(commit_first=commit_first)
    sender = make_sender(store, provider, policy)
    router = Router(time_env.client, journeys.ALL, task_queue)
    acts = [
        sender.send_message,
        HandoverActivities(router).start_journey,
        ExperimentActivities(store, enabled=False).assign_arm,
    ]
    async with Worker(
        time_env.client,
        task_queue=task_queue,
        workflows=list(journeys.ALL),
        activities=acts,
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
    ):
        contact = await add_contact(store)
        handle = await sign_up(router, time_env, contact)
        await asyncio.wait_for(provider.started.wait(), 30)
        await router.route(contact, Event(message_id=f"u-{contact}", name="Unsubscribed"))
        await until(lambda: closed(handle), "the journey to end")
        result = await handle.result()
        if not commit_first:
            # The heartbeat told the activity; it stopped the call and gave the row back.
            async def cancelled() -> bool:
                return (await only_message(store, contact)).reason == "cancelled"

            await until(cancelled, "the send to be cancelled")
        provider.release.set()
        if commit_first:

            async def recorded() -> bool:
                return (await only_message(store, contact)).status == "sent"

            await until(recorded, "the handed-over send to be recorded")
        await asyncio.sleep(0.2)
    assert result.exit_reason is ExitReason.unsubscribed
    message = await only_message(store, contact)
    if commit_first:
        assert (message.status, provider.delivered) == ("sent", 1)
    else:
        assert (message.status, message.reason, provider.delivered) == (
            "prepared",
            "cancelled",
            0,
        )
