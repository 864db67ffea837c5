"""Routing by what journeys listen to: histories hold only signals the journey reads, and a
wait on an event a journey does not listen to fails loudly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from journeys.cross_sell import CrossSell
from journeys.registry import ALL
from journeys.welcome import Welcome
from store import Store
from store.schema import presence_since
from tests.workflows.conftest import Harness
from tests.workflows.sample_journeys import Dynamic
from workflows import Journey, days, journey
from workflows.models import Event, JourneyInput
from workflows.routing import Router
from workflows.search import workflow_id
from workflows.spec import UndeclaredEvent

# Events no registered journey listens to (cart journeys listen to the shopping ones).
NOISE = ("Page Viewed", "Products Searched", "Product Shared", "Coupon Entered")
WAITED = ("Ping", "Pong")


async def _signalled_names(h: Harness, journey_name: str) -> list[str]:
    """The event names in the journey's real history, decoded from its signal payloads."""
    history = await h.handle(journey_name).fetch_history()
    names = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        attrs = event.workflow_execution_signaled_event_attributes
        [payload] = attrs.input.payloads
        [decoded] = pydantic_data_converter.payload_converter.from_payloads([payload], [Event])
        names.append(decoded.name)
    return names


async def _entered_with(h: Harness, journey_name: str) -> list[str]:
    """The event names in the inbox the journey's first run was started with."""
    history = await h.handle(journey_name).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [decoded] = pydantic_data_converter.payload_converter.from_payloads(
        list(started.input.payloads), [JourneyInput]
    )
    return [e.name for e in decoded.inbox]


async def test_a_journeys_history_holds_only_events_it_listens_to(harness: Harness) -> None:
    await harness.event("Signed Up")
    await harness.until(lambda: harness.running("welcome"), "welcome to start")
    for name in NOISE:
        routed = await harness.router.route(
            harness.contact, Event(message_id=uuid.uuid4().hex, name=name)
        )
        assert routed.signalled == [] and routed.started == []
    await harness.event("Email Opened")  # welcome waits for it
    await harness.event("Unsubscribed", topic="transactional")  # a consent exit it checks
    # Signals reach the history once the workflow has taken them in.
    await harness.until(lambda: _signals(harness, 2), "two signals in the history")

    names = await _signalled_names(harness, "welcome")

    # The entry event came in the start's input, not as a signal of its own.
    assert await _entered_with(harness, "welcome") == ["Signed Up"]
    assert names == ["Email Opened", "Unsubscribed"]
    assert set(names) <= Welcome.spec.listens_to
    assert not set(NOISE) & Welcome.spec.listens_to


class _CountingClient:
    """A Temporal client that counts the workflow handles (signal calls) asked of it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.handles = 0

    def get_workflow_handle(self, *args: Any, **kwargs: Any) -> Any:
        self.handles += 1
        return self._client.get_workflow_handle(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _opened() -> Event:
    return Event(message_id=uuid.uuid4().hex, name="Email Opened")


def _counted(harness: Harness, store: Store) -> tuple[Router, _CountingClient]:
    client = _CountingClient(harness.client)
    router = Router(
        cast(Client, client),
        list(harness.router.journeys.values()),
        harness.router.task_queue,
        presence=store.presence,
    )
    return router, client


async def test_a_journey_never_started_costs_no_call_until_it_starts(harness: Harness) -> None:
    # Every start on this store was counted (it was empty when presence arrived).
    router, client = _counted(harness, harness.store)
    listening = router.listeners("Email Opened")
    assert "welcome" in listening
    first = await router.route(harness.contact, _opened())
    assert set(listening) <= set(first.skipped)
    assert client.handles == 0

    entered = await router.route(harness.contact, Event(message_id="m-signup", name="Signed Up"))
    assert entered.started == ["welcome"]
    second = await router.route(harness.contact, _opened())
    assert second.signalled == ["welcome"]  # started since: signalled, the rest not
    assert client.handles == 1


async def test_after_an_upgrade_a_journey_temporal_said_is_not_running_costs_no_call(
    harness: Harness,
) -> None:
    # The contact was seen before presence was complete: its journeys may have been started
    # uncounted, so Temporal is asked once per journey, and the answer remembered.
    async with harness.store.engine.begin() as conn:
        await conn.execute(
            presence_since.update().values(since=datetime.now(UTC) + timedelta(hours=1))
        )
    upgraded = Store(harness.store.engine)
    router, client = _counted(harness, upgraded)
    listening = router.listeners("Email Opened")
    first = await router.route(harness.contact, _opened())
    assert "welcome" in first.skipped
    assert client.handles == len(listening)  # asked Temporal once per listening journey

    second = await router.route(harness.contact, _opened())
    assert "welcome" in second.skipped
    assert client.handles == len(listening)  # remembered: no call at all

    entered = await router.route(harness.contact, Event(message_id="m-signup", name="Signed Up"))
    assert entered.started == ["welcome"]
    third = await router.route(harness.contact, _opened())
    assert third.signalled == ["welcome"]  # started since: signalled again, the rest not
    assert client.handles == len(listening) + 1


async def _signals(h: Harness, count: int) -> bool:
    return len(await _signalled_names(h, "welcome")) >= count


def test_listens_to_covers_entry_goal_consent_and_waits() -> None:
    for registered in ALL:
        spec = registered.spec
        assert {*spec.entry, *spec.goal, *spec.listens, "Unsubscribed"} <= spec.listens_to
    assert {"Email Opened", "Email Link Clicked"} <= Welcome.spec.listens_to


def test_a_literal_wait_on_an_undeclared_event_is_refused_at_registration() -> None:
    with pytest.raises(UndeclaredEvent, match="'Email Opened'.*listens="):

        @journey(name="t_deaf", entry="Go t_deaf")
        class Deaf(Journey):
            async def steps(self) -> None:
                await self.wait_for("Email Opened", within=days(1))


def test_a_module_constant_wait_is_checked_too() -> None:
    with pytest.raises(UndeclaredEvent, match="'Pong'"):

        @journey(name="t_half", entry="Go t_half", listens="Ping")
        class Half(Journey):
            async def steps(self) -> None:
                await self.wait_for(WAITED, within=days(1))

    @journey(name="t_whole", entry="Go t_whole", listens=WAITED)
    class Whole(Journey):
        async def steps(self) -> None:
            await self.wait_for(WAITED, within=days(1))

    assert set(WAITED) <= Whole.spec.listens_to


async def test_a_run_time_wait_on_an_undeclared_event_fails_loudly(
    harness: Harness, task_queue: str
) -> None:
    queue = f"{task_queue}-dynamic"
    async with Worker(
        harness.client,
        task_queue=queue,
        workflows=[Dynamic],
        # In production it fails the workflow task (retried until a fixed journey is
        # deployed); here it fails the workflow so the test can read the error.
        workflow_failure_exception_types=[UndeclaredEvent],
    ):
        handle = await harness.client.start_workflow(
            "t_dynamic",
            {"contact_id": harness.contact},
            id=workflow_id("t_dynamic", harness.contact),
            task_queue=queue,
            start_signal="event",
            start_signal_args=[
                Event(message_id="go", name="Go t_dynamic", properties={"wait": "Nobody Sends"})
            ],
            execution_timeout=timedelta(minutes=5),
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert "Nobody Sends" in str(failure.value.cause)


class _ScriptedClient:
    """A Temporal client whose starts and signals fail as scripted, recording each call."""

    def __init__(self, starts: list[bool], signals: list[bool]) -> None:
        self.starts, self.signals = starts, signals  # True: the call succeeds
        self.calls: list[str] = []

    async def start_workflow(self, name: str, input: JourneyInput, **options: Any) -> None:
        self.calls.append("start")
        # The entry event rides in the input, its id among those seen (a retry is a duplicate).
        assert len(input.inbox) == 1 and input.seen == [input.inbox[0].message_id]
        assert "start_signal" not in options
        if not self.starts.pop(0):
            raise WorkflowAlreadyStartedError(options["id"], name)

    def get_workflow_handle(self, workflow_id: str) -> _ScriptedClient:
        return self

    async def signal(self, name: str, event: Event) -> None:
        self.calls.append("signal")
        if not self.signals.pop(0):
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")


def _order() -> Event:
    return Event(message_id="m-order", name="Order Completed")


@pytest.mark.parametrize(
    ("starts", "signals", "outcome", "calls"),
    [
        ([True], [], "started", ["start"]),
        # Running: the stay hears the entry event instead.
        ([False], [True], "signalled", ["start", "signal"]),
        # It ended between the refused start and the signal: re-entry after exit is allowed.
        ([False, True], [False], "started", ["start", "signal", "start"]),
        # Closed, and still refused on the second try.
        ([False, False], [False, False], "skipped", ["start", "signal"] * 2),
    ],
)
async def test_an_entry_starts_or_tells_the_running_stay(
    starts: list[bool], signals: list[bool], outcome: str, calls: list[str]
) -> None:
    client = _ScriptedClient(starts, signals)
    router = Router(cast(Client, client), [CrossSell], "q")
    routed = await router.route("u1", _order())
    assert getattr(routed, outcome) == ["cross_sell"]
    assert client.calls == calls


async def test_an_entry_refused_for_good_is_not_started_twice() -> None:
    # Welcome is once per contact: a refused start is final, whatever the signal finds.
    client = _ScriptedClient([False], [False])
    router = Router(cast(Client, client), [Welcome], "q")
    routed = await router.route("u1", Event(message_id="m-signup", name="Signed Up"))
    assert routed.skipped == ["welcome"]
    assert client.calls == ["start", "signal"]


def test_an_event_cannot_be_both_entry_and_goal() -> None:
    with pytest.raises(ValueError, match=r"'t_both'.*\['Order Completed'\].*both entry and goal"):

        @journey(name="t_both", entry=("Signed Up", "Order Completed"), goal="Order Completed")
        class Both(Journey):
            async def steps(self) -> None:
                pass


@journey(name="t_goodbye", entry="Unsubscribed", topic="marketing")
class Goodbye(Journey):
    """Enters on an unsubscribe: one for its own topic also ends it (a consent exit)."""

    async def steps(self) -> None:
        pass


@pytest.mark.parametrize(("running", "outcome"), [(False, "skipped"), (True, "signalled")])
async def test_an_entry_that_would_end_its_stay_starts_nothing(running: bool, outcome: str) -> None:
    # As a start signal it ended the new stay before any step; a running stay must still hear
    # it, since it ends that stay too.
    client = _ScriptedClient(starts=[], signals=[running])
    router = Router(cast(Client, client), [Goodbye], "q")
    event = Event(message_id="m-bye", name="Unsubscribed", properties={"topic": "marketing"})
    routed = await router.route("u1", event)
    assert getattr(routed, outcome) == ["t_goodbye"]
    assert client.calls == ["signal"]


async def test_an_entry_for_another_topic_starts_the_stay() -> None:
    client = _ScriptedClient(starts=[True], signals=[])
    router = Router(cast(Client, client), [Goodbye], "q")
    event = Event(message_id="m-bye", name="Unsubscribed", properties={"topic": "product"})
    assert (await router.route("u1", event)).started == ["t_goodbye"]


class _CountedStarts:
    """A presence table that only counts the starts it is told of."""

    def __init__(self) -> None:
        self.starts = 0

    async def starting(self, journey: str, contact_id: str) -> None:
        self.starts += 1

    async def of(self, contact_id: str, journeys: Any) -> dict[str, Any]:
        return {}

    async def not_running(self, journey: str, contact_id: str, starts: int | None) -> None:
        raise AssertionError("an entry never marks its journey absent")


async def test_each_start_of_an_entry_is_counted_in_presence() -> None:
    # The stay ended between the refused start and the signal; the second start is a new stay
    # that another router must not take for the absent one.
    presence = _CountedStarts()
    client = _ScriptedClient([False, True], [False])
    router = Router(cast(Client, client), [CrossSell], "q", presence=presence)
    assert (await router.route("u1", _order())).started == ["cross_sell"]
    assert presence.starts == 2
