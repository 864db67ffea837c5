"""``journeys status`` says why a send waits: attempt, last error, next try."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.experiment_models import ASSIGN_ARM, ArmAssigned, ArmsAssigned, AssignArms
from activities.models import SEND_MESSAGE, Delivery, SendMessage
from journeys.welcome import Welcome
from worker.cli_journeys import print_row, retrying
from workflows.models import Event
from workflows.routing import Router
from workflows.search import DEV_KEYS


async def test_a_send_retrying_after_a_429_shows_why_it_waits(
    time_env: WorkflowEnvironment, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = f"tq-{uuid.uuid4().hex[:12]}"
    release = asyncio.Event()
    second_try = asyncio.Event()

    @activity.defn(name=SEND_MESSAGE)
    async def rate_limited(request: SendMessage) -> Delivery:
        if activity.info().attempt == 1:
            raise ApplicationError(
                "postmark answered 429: slow down",
                type="ProviderError",
                next_retry_delay=timedelta(seconds=7),
            )
        second_try.set()
        await release.wait()
        return Delivery(message_id="m1", status="sent")

    @activity.defn(name=ASSIGN_ARM)
    async def treated(request: AssignArms) -> ArmsAssigned:
        # Welcome's holdout and subject line at entry: the first arm of each.
        return ArmsAssigned(arms=[ArmAssigned(arm=r.arms[0]) for r in request.requests])

    async with Worker(
        time_env.client, task_queue=queue, workflows=[Welcome], activities=[rate_limited, treated]
    ):
        router = Router(time_env.client, [Welcome], queue)
        contact = f"r-{uuid.uuid4().hex[:6]}"
        await router.route(contact, Event(message_id=f"su-{contact}", name="Signed Up"))
        await asyncio.wait_for(second_try.wait(), 60)
        handle = time_env.client.get_workflow_handle(DEV_KEYS.workflow_id("welcome", contact))
        waiting = await retrying(handle)
        release.set()
        await handle.terminate()
    [send] = waiting
    assert (send["activity"], send["attempt"]) == (SEND_MESSAGE, 2)
    assert "429" in send["last_error"]
    print_row(
        {
            "workflow_id": f"welcome-{contact}",
            "journey": "welcome",
            "status": "RUNNING",
            "step": "01-welcome/hello",
            "start_time": None,
            "close_time": None,
            "waiting_for": None,
            "exit_reason": None,
            "note": None,
            "history": [],
            "retrying": waiting,
        }
    )
    assert "retrying  send_message attempt 2" in capsys.readouterr().out
