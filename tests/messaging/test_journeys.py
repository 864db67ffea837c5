"""Journey-level: a withdrawal stops a pending send; deferral waits on a durable timer;
end to end, the welcome journey mails through SMTP and a one-click unsubscribe ends it."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, timedelta

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import journeys.registry as journeys
from activities.experiments import ExperimentActivities
from activities.handover import HandoverActivities
from activities.policy import MessagingPolicy
from activities.providers import Provider, SmtpProvider
from store import Store
from store.records import MessageRecord
from tests.messaging.conftest import add_contact, make_sender, messaging_app
from tests.messaging.fake_providers import serve_app
from tests.messaging.smtp_server import smtp_server
from tests.ports import free_port
from tests.stopping import terminate_when_idle
from worker.settings import DEV_WRITE_KEY, Settings
from workflows.models import Event, ExitReason, JourneyResult, JourneyState
from workflows.routing import Router
from workflows.search import DEV_KEYS


@asynccontextmanager
async def worker(
    env: WorkflowEnvironment, store: Store, queue: str, provider: Provider, policy: MessagingPolicy
) -> AsyncIterator[Router]:
    router = Router(env.client, journeys.ALL, queue)
    sender = make_sender(store, provider, policy)
    acts = [
        sender.prepare_message,
        sender.deliver_message,
        sender.send_message,
        HandoverActivities(router).start_journey,
        ExperimentActivities(store, enabled=False).assign_arm,
    ]
    async with Worker(env.client, task_queue=queue, workflows=list(journeys.ALL), activities=acts):
        yield router


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    """Poll in real time; fail naming ``what`` if it never holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def sign_up(router: Router, env: WorkflowEnvironment, contact: str) -> WorkflowHandle:
    await router.route(contact, Event(message_id=uuid.uuid4().hex, name="Signed Up"))
    return env.client.get_workflow_handle(
        DEV_KEYS.workflow_id("welcome", contact), result_type=JourneyResult
    )


async def only_message(store: Store, contact: str) -> MessageRecord:
    [message] = await store.messages.list(contact_id=contact)
    return message


async def closed(handle: WorkflowHandle) -> bool:
    desc = await handle.describe()
    return desc.status is not None and desc.status.name != "RUNNING"


async def quiet_today(base: MessagingPolicy, env: WorkflowEnvironment) -> MessagingPolicy:
    """Today is not a sending day (contacts in UTC): every marketing send waits for tomorrow.

    "Today" is the test server's, which earlier tests in the module have moved on.
    """
    today = (await env.get_current_time()).astimezone(UTC).weekday()
    return base.model_copy(
        update={"quiet_hours": True, "send_days": [d for d in range(7) if d != today]}
    )


@pytest.mark.parametrize("routed", [True, False], ids=["event-routed", "event-lost"])
async def test_withdrawal_stops_a_pending_send(
    routed: bool,
    time_env: WorkflowEnvironment,
    store: Store,
    task_queue: str,
    policy: MessagingPolicy,
) -> None:
    policy = await quiet_today(policy, time_env)
    with smtp_server() as (mailbox, port):
        provider = SmtpProvider("127.0.0.1", port)
        async with worker(time_env, store, task_queue, provider, policy) as router:
            contact = await add_contact(store, timezone="UTC")
            handle = await sign_up(router, time_env, contact)

            async def deferred() -> bool:
                rows = await store.messages.list(contact_id=contact)
                return bool(rows) and (await store.messages.deferral(rows[0].key))[1] >= 1

            await until(deferred, "the welcome email to be deferred to tomorrow")
            message = await only_message(store, contact)
            url = message.headers["List-Unsubscribe"].split(",")[0].strip(" <>")
            transport = httpx.ASGITransport(app=messaging_app(store, policy))
            async with httpx.AsyncClient(transport=transport) as web:
                assert (await web.post(url, data={"List-Unsubscribe": "One-Click"})).is_success
            if routed:
                # What the gateway's relay does with the stored event.
                [event] = [e for e in await store.events.unrouted() if e.contact_id == contact]
                await router.route(
                    contact,
                    Event(
                        message_id=event.message_id, name=event.name, properties=event.properties
                    ),
                )
            if not routed:
                # Past tomorrow 08:00, when the send was due.
                await time_env.sleep(timedelta(days=2))
            await until(lambda: closed(handle), "the journey to end")
            result = await handle.result()
    assert result.exit_reason is ExitReason.unsubscribed
    assert mailbox.received == []
    if not routed:
        # The timer fired and the send checked consent again at the moment of sending.
        assert (await only_message(store, contact)).reason == "unsubscribed"


async def test_a_deferred_send_leaves_when_the_window_opens(
    time_env: WorkflowEnvironment, store: Store, task_queue: str, policy: MessagingPolicy
) -> None:
    policy = await quiet_today(policy, time_env)
    with smtp_server() as (mailbox, port):
        async with worker(
            time_env, store, task_queue, SmtpProvider("127.0.0.1", port), policy
        ) as router:
            contact = await add_contact(store, timezone="UTC")
            handle = await sign_up(router, time_env, contact)
            try:

                async def sent() -> bool:
                    return (await only_message(store, contact)).status == "sent"

                await until(lambda: store.messages.list(contact_id=contact), "a message row")
                assert mailbox.received == []
                await time_env.sleep(timedelta(days=2))
                await until(sent, "the deferred email to leave")
                history = [e async for e in handle.fetch_history_events()]
                timers = [e for e in history if e.HasField("timer_started_event_attributes")]
                assert len(timers) >= 1
            finally:
                await terminate_when_idle(handle)
    assert len(mailbox.received) == 1
    assert (await store.messages.deferral((await only_message(store, contact)).key))[1] >= 1


async def test_end_to_end_smtp_welcome_and_one_click_unsubscribe(
    time_env: WorkflowEnvironment,
    store: Store,
    task_queue: str,
    settings: Settings,
) -> None:
    from gateway.app import create_app

    port = free_port()
    # The gateway mounts its messaging routes from settings; the worker signs links the same way.
    gateway_settings = settings.model_copy(
        update={
            "relay_interval_seconds": 0.1,
            "public_url": f"http://127.0.0.1:{port}",
            "secret_key": "e2e",
        }
    )
    policy = MessagingPolicy.from_settings(gateway_settings)
    with smtp_server() as (mailbox, smtp_port):
        async with worker(
            time_env, store, task_queue, SmtpProvider("127.0.0.1", smtp_port), policy
        ) as router:

            async def router_factory() -> Router:
                return router

            app = create_app(gateway_settings, store=store, router_factory=router_factory)
            async with serve_app(app, port=port, lifespan="on") as base:
                contact = await add_contact(store, locale="fr")
                async with httpx.AsyncClient(
                    base_url=base, timeout=10, auth=(DEV_WRITE_KEY, "")
                ) as web:
                    accepted = await web.post(
                        "/v1/track", json={"userId": contact, "event": "Signed Up"}
                    )
                    assert accepted.is_success, accepted.text
                    handle = time_env.client.get_workflow_handle(
                        DEV_KEYS.workflow_id("welcome", contact), result_type=JourneyResult
                    )

                    async def mailed() -> bool:
                        return len(mailbox.received) == 1

                    await until(mailed, "the welcome email in the SMTP server")
                    [mail] = mailbox.messages()
                    assert mail["Subject"] == "Bienvenue, Ada !"
                    # A click on a tracked link in the email moves the journey on.
                    html = next(
                        p.get_content() for p in mail.walk() if p.get_content_type() == "text/html"
                    )
                    click = re.search(r'href="(http://127\.0\.0\.1:\d+/t/c/[^"]+)"', html)
                    assert click is not None
                    assert (await web.get(click.group(1))).status_code == 302

                    async def engaged() -> bool:
                        state = await handle.query("state", result_type=JourneyState)
                        return any("got Email Link Clicked" in r.detail for r in state.history)

                    await until(engaged, "the click to reach the journey")
                    one_click = mail["List-Unsubscribe"].split(",")[0].strip(" <>")
                    answer = await web.post(one_click, data={"List-Unsubscribe": "One-Click"})
                    assert answer.status_code == 200
                    await until(lambda: closed(handle), "the journey to end")
                    result = await handle.result()
    assert result.exit_reason is ExitReason.unsubscribed
    assert len(mailbox.received) == 1
