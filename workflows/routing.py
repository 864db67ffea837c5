"""Routing events to journeys by their deterministic workflow ids.

Entry events start the journey with the event in its input, or signal the stay already
running (so a contact is in it at most once at a time); every other event signals the
contact's running journeys that listen to it (:attr:`workflows.spec.JourneySpec.listens_to`)
and skips the rest without a call to Temporal, so a journey's history holds only signals it
reads, and events nobody listens to cost nothing. With a presence table (:mod:`store.presence`),
a journey Temporal already said is not running, and that nobody started since, or that was
never started, is skipped without a call too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from workflows.exits import exit_for
from workflows.journey import Journey
from workflows.models import Event, JourneyInput
from workflows.search import CONTACT_ID, DEV_KEYS, JOURNEY_STEP, ContactKeys
from workflows.spec import Reentry

# Starts tried for one entry event of a journey that allows re-entry (see Router._enter).
ENTRY_ATTEMPTS = 2


class Known(Protocol):
    """What is known of one journey of one contact (``store.presence.Presence``)."""

    @property
    def starts(self) -> int:
        """Starts counted so far."""
        ...

    @property
    def absent(self) -> bool:
        """Temporal said it is not running, and no start was counted since."""
        ...


class JourneyPresence(Protocol):
    """Which journeys may be running (``store.presence.PresenceRepo``; the store implements
    it, the router only needs these three calls)."""

    async def starting(self, journey: str, contact_id: str) -> None: ...

    async def of(self, contact_id: str, journeys: Sequence[str]) -> Mapping[str, Known]: ...

    async def not_running(self, journey: str, contact_id: str, starts: int | None) -> None: ...


@dataclass
class Routed:
    """What routing one event did, journey by journey."""

    started: list[str] = field(default_factory=list)
    signalled: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not running, re-entry refused, or deaf


class Router:
    """Delivers events to journeys; shared by the gateway's relay and the hand-over activity.

    Args:
        client: a Temporal client (with the pydantic data converter).
        journeys: the registry of journey classes.
        task_queue: where the worker listens.
        keys: names workflows by contact key, never by user id (``Settings.contact_keys``).
        time_scale: the pace of the journeys it starts, unless a start says otherwise
            (``Settings.dev_time_scale``; see ``workflows/clock.py``).
        presence: counts starts and remembers which journeys are not running
            (:class:`store.presence.PresenceRepo`); without it
            every listening journey is signalled. Every router of a deployment must share
            it (the gateway's and the worker's), or a start it did not count goes unseen.
    """

    def __init__(
        self,
        client: Client,
        journeys: Sequence[type[Journey]],
        task_queue: str,
        keys: ContactKeys = DEV_KEYS,
        time_scale: float = 1.0,
        presence: JourneyPresence | None = None,
    ) -> None:
        self.client = client
        self.presence = presence
        self.time_scale = time_scale
        self.keys = keys
        self.journeys = {j.spec.name: j for j in journeys}
        self.task_queue = task_queue
        # Event name -> the journeys that listen to it; every other name costs no call.
        self._listeners: dict[str, list[str]] = {}
        for name, journey in self.journeys.items():
            for event in journey.spec.listens_to:
                self._listeners.setdefault(event, []).append(name)

    def listeners(self, event: str) -> list[str]:
        """The journeys an event named ``event`` is delivered to (if they run, or it enters)."""
        return self._listeners.get(event, [])

    def _start_options(self, journey: type[Journey], contact_id: str) -> dict:
        return dict(
            id=self.keys.workflow_id(journey.spec.name, contact_id),
            task_queue=self.task_queue,
            id_reuse_policy=journey.spec.reentry.id_reuse_policy,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(CONTACT_ID, self.keys.key(contact_id)),
                    SearchAttributePair(JOURNEY_STEP, "entered"),
                ]
            ),
        )

    async def route(self, contact_id: str, event: Event) -> Routed:
        """Deliver ``event`` to every journey of ``contact_id`` that wants it.

        Raises RPCError when Temporal is unreachable, so the caller can retry later; the
        journeys drop duplicates by ``message_id``, so retrying is safe.
        """
        listeners = self.listeners(event.name)
        routed = Routed(skipped=[name for name in self.journeys if name not in listeners])
        if not listeners:
            return routed
        event = event.without_personal_data()
        known = await self._presence(contact_id, event.name, listeners)
        # Journeys are independent: tell them all at once (the relay still routes one event
        # of a contact at a time, so per-journey order is kept).
        outcomes = await asyncio.gather(
            *(
                self._deliver(name, self.journeys[name], contact_id, event, known.get(name))
                for name in listeners
            ),
            return_exceptions=True,
        )
        # Every delivery has finished before one failure is raised: nothing is left running.
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        for name, outcome in zip(listeners, outcomes, strict=True):
            getattr(routed, cast(str, outcome)).append(name)
        return routed

    async def _presence(
        self, contact_id: str, event: str, listeners: Sequence[str]
    ) -> Mapping[str, Known]:
        """What is known of the listening journeys this event would only signal (a journey
        missing from the answer is unknown: it is signalled)."""
        signalled = [n for n in listeners if event not in self.journeys[n].spec.entry]
        if self.presence is None or not signalled:
            return {}
        return await self.presence.of(contact_id, signalled)

    async def _deliver(
        self,
        name: str,
        journey: type[Journey],
        contact_id: str,
        event: Event,
        known: Known | None = None,
    ) -> str:
        """Deliver ``event`` to one journey; returns ``started``, ``signalled`` or ``skipped``.

        ``known``: the journey's presence as read before (None: no row, unknown).
        """
        if event.name in journey.spec.entry:
            return await self._enter(name, journey, contact_id, event)
        if known is not None and known.absent:
            return "skipped"  # not running, and not started since Temporal said so
        if await self._signal(self.keys.workflow_id(name, contact_id), event):
            return "signalled"
        if self.presence is not None:
            await self.presence.not_running(
                name, contact_id, known.starts if known is not None else None
            )
        return "skipped"  # not running: nothing to tell

    async def _enter(self, name: str, journey: type[Journey], contact_id: str, event: Event) -> str:
        """Start ``journey`` with its entry ``event``, or tell the running one about it.

        The event rides in the start's input (with its id among those seen, so a catch-up
        retry is dropped as a duplicate), not in a start signal: a signal-with-start records
        one history event and one billable action more for every journey entered
        (``bench.journey_cost``). The journey reads an inbox from its input either way.
        """
        options = self._start_options(journey, contact_id)
        if exit_for(journey.spec, event, ()) is not None:
            # It would end the stay it starts (an Unsubscribed for the journey's topic, say):
            # as a start signal it did so before any step. In the input nothing looks for
            # exits, so it starts nothing; a running stay still hears it, and ends.
            return "signalled" if await self._signal(options["id"], event) else "skipped"
        start = JourneyInput(
            contact_id=contact_id,
            time_scale=self.time_scale,
            inbox=[event],
            seen=[event.message_id],
        )
        # A journey that may come back after an exit could end between a refused start and
        # the signal: then its policy decides on a second start.
        attempts = 1 if journey.spec.reentry is Reentry.never else ENTRY_ATTEMPTS
        for _ in range(attempts):
            if self.presence is not None:
                # Counted before each start, so a router that saw this stay absent meanwhile
                # does not hide the one a second attempt starts.
                await self.presence.starting(name, contact_id)
            try:
                await self.client.start_workflow(
                    name, start, id_conflict_policy=WorkflowIDConflictPolicy.FAIL, **options
                )
                return "started"
            except WorkflowAlreadyStartedError:
                pass  # running, or closed and the re-entry policy refuses the contact
            if await self._signal(options["id"], event):
                return "signalled"  # the running stay hears it (and drops a duplicate)
        return "skipped"  # re-entry refused by policy

    async def _signal(self, workflow_id: str, event: Event) -> bool:
        """Signal ``event`` to a running workflow; False when none runs under that id."""
        try:
            await self.client.get_workflow_handle(workflow_id).signal("event", event)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            return False
        return True

    async def start(
        self, name: str, contact_id: str, time_scale: float | None = None
    ) -> tuple[str, bool]:
        """Start journey ``name`` for a contact (a hand-over); False if it is running or
        its re-entry policy refuses the contact. ``time_scale``: the router's own if None."""
        journey = self.journeys[name]
        scale = self.time_scale if time_scale is None else time_scale
        options = self._start_options(journey, contact_id)
        if self.presence is not None:
            await self.presence.starting(name, contact_id)
        try:
            await self.client.start_workflow(
                name,
                JourneyInput(contact_id=contact_id, time_scale=scale),
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                **options,
            )
        except WorkflowAlreadyStartedError:
            return options["id"], False
        return options["id"], True
