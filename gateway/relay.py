"""The relay: routes each contact's stored events to its journeys, in order, contacts in parallel.

The gateway answers a call once the event is stored and then kicks the relay with the contact
(:meth:`Relay.kick`), so an event normally reaches its journeys milliseconds after its commit.

- **Lanes.** A bounded pool of lanes routes contacts concurrently. A lane takes one contact,
  claims it (:func:`store.claims.claims_for`: in the store on PostgreSQL, so one relay per
  contact even with several gateway processes; in memory on SQLite, whose one gateway is the
  only relay), routes up to ``batch_size`` of its unrouted events oldest first, marks them
  routed, releases the claim and, if more are waiting, puts the contact at the back of the
  line. One contact's backlog (a 20,000-item batch) therefore holds
  one lane at a time and yields after every batch; everybody else keeps flowing.
- **Catch-up.** Every ``interval`` seconds, and on a :meth:`Relay.kick` without contacts, the
  relay looks for contacts with unrouted events: what could not be routed while Temporal was
  down, after a crash between commit and signal, or when another gateway held the contact.
- **Failures.** While Temporal is unreachable every lane holds, backing off exponentially, so a
  dead server is not hammered and nothing is lost. Any other failure backs off only that
  contact; its failed event stays first in its line, so its later events never overtake it,
  and other contacts are not delayed. An event Temporal refuses for good is kept, flagged with
  ``route_error``, and skipped.

Routing is at-least-once: a crash between signalling and marking re-sends the event, and
journeys drop duplicates by ``messageId``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

import structlog
from temporalio.service import RPCError

from activities import metrics
from gateway.relay_failures import (
    PERMANENT,
    RouteFailed,
    TemporalUnavailable,
    log_failure,
    unreachable,
)
from store import Store
from store.claims import claims_for
from store.records import EventRecord
from workflows.models import Event

log = structlog.get_logger(__name__)

# The backoff cap, as a multiple of the poll interval: a recovered Temporal gets the backlog
# within a few intervals, while a dead one is not hammered.
BACKOFF_FACTOR = 5
BACKOFF_FIRST = 0.1
CONCURRENCY = 16
SCAN_SIZE = 500


class EventRouter(Protocol):
    """What the relay needs from :class:`workflows.routing.Router` (tests pass fakes)."""

    async def route(self, contact_id: str, event: Event) -> object:
        """Deliver ``event`` to the contact's journeys; raise to have it retried."""
        ...


RouterFactory = Callable[[], Awaitable[EventRouter]]


def _event(record: EventRecord) -> Event:
    return Event(
        message_id=record.message_id,
        name=record.name,
        properties=record.properties,
        timestamp=record.timestamp,
    )


class Relay:
    """Routes stored events to journeys, per contact, in the background.

    Args:
        store: the contact store whose event log is relayed.
        router_factory: builds the router (and its Temporal client); called lazily on the
            first event and again after it failed, so the gateway runs while Temporal is down.
        interval: seconds between catch-up scans when nobody calls :meth:`kick`.
        batch_size: events of one contact routed per turn before others get a lane.
        max_backoff: longest pause after failures; ``interval * BACKOFF_FACTOR`` by default.
        stop_grace: seconds :meth:`stop` lets running turns finish before cancelling them.
        concurrency: contacts routed at the same time.
        claim_ttl: seconds a crashed relay's claims on contacts outlive it.
        owner: this relay's name in the claims table (host, pid and a random part by default).
    """

    def __init__(
        self,
        store: Store,
        router_factory: RouterFactory,
        *,
        interval: float = 2.0,
        batch_size: int = 100,
        max_backoff: float | None = None,
        stop_grace: float = 2.0,
        concurrency: int = CONCURRENCY,
        claim_ttl: float = 30.0,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.interval = interval
        self.batch_size = batch_size
        self.max_backoff = max_backoff if max_backoff is not None else interval * BACKOFF_FACTOR
        self.first_backoff = min(BACKOFF_FIRST, self.max_backoff)
        self.stop_grace = stop_grace
        self.concurrency = concurrency
        self.owner = owner or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.claims = claims_for(store.engine, self.owner, claim_ttl)
        self.failures = 0  # consecutive "Temporal unreachable" failures; 0 when healthy
        self.routed = 0
        self._factory = router_factory
        self._router: EventRouter | None = None
        self._connecting = asyncio.Lock()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._queued: set[str] = set()
        self._active: set[str] = set()
        self._again: set[str] = set()
        self._retries: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._held_until = 0.0
        self._scan = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def connected(self) -> bool:
        """True once a router exists (Temporal answered a connect)."""
        return self._router is not None

    @property
    def running(self) -> bool:
        """True while the background tasks run."""
        return any(not task.done() for task in self._tasks)

    def kick(self, contact_ids: Iterable[str] | None = None) -> None:
        """Route now: these contacts' new events, or, without ids, whatever is unrouted.

        Call it right after committing events. A contact backing off after a failure is not
        hurried by a kick (kicks would otherwise hammer a failing server).
        """
        if contact_ids is None:
            self._scan.set()
            return
        for contact_id in contact_ids:
            self._enqueue(contact_id)

    def start(self) -> None:
        """Start the lanes and the catch-up task (idempotent)."""
        if self.running:
            return
        self._stop.clear()
        self._queue = asyncio.Queue()
        self._queued.clear()
        self._again.clear()
        self._tasks = [asyncio.create_task(self._catch_up(), name="sojourn-relay")]
        self._tasks += [
            asyncio.create_task(self._lane(), name=f"sojourn-relay-lane-{n}")
            for n in range(self.concurrency)
        ]

    async def stop(self) -> None:
        """Stop: let running turns finish for ``stop_grace`` seconds, then cancel them.

        Cancelling mid-route is safe: unmarked events stay unrouted and are routed again.
        """
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        self._stop.set()
        self._scan.set()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for _ in range(self.concurrency):
            self._queue.put_nowait(None)  # wakes idle lanes so they can see the stop
        _, pending = await asyncio.wait(tasks, timeout=self.stop_grace)
        for task in pending:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ---- scheduling ---------------------------------------------------------------------------

    def _enqueue(self, contact_id: str) -> None:
        if self._stop.is_set() or contact_id in self._timers:
            return
        if contact_id in self._active:
            self._again.add(contact_id)  # its lane looks again once the current turn ends
        elif contact_id not in self._queued:
            self._queued.add(contact_id)
            self._queue.put_nowait(contact_id)

    def _retry_later(self, contact_id: str, delay: float) -> None:
        def due() -> None:
            self._timers.pop(contact_id, None)
            self._enqueue(contact_id)

        self._timers[contact_id] = asyncio.get_running_loop().call_later(delay, due)

    async def _hold(self) -> None:
        """Wait while Temporal is known to be unreachable (a global backoff)."""
        loop = asyncio.get_running_loop()
        while not self._stop.is_set() and (delay := self._held_until - loop.time()) > 0:
            await _wait(self._stop, delay)

    async def _catch_up(self) -> None:
        while not self._stop.is_set():
            # Cleared before reading the log: a kick during the scan triggers another one.
            self._scan.clear()
            await self._hold()
            try:
                for contact_id in await self.store.events.pending_contacts(SCAN_SIZE):
                    self._enqueue(contact_id)
            except Exception as exc:  # the store is down: events wait in it, try again later
                log.warning("relay cannot read the event log; will retry", error=repr(exc))
            await _wait(self._scan, self.interval)

    async def _lane(self) -> None:
        while True:
            contact_id = await self._queue.get()
            if contact_id is None or self._stop.is_set():
                return
            # Active from here on, through the hold too: a kick meanwhile must not hand the
            # same contact to a second lane (one lane per contact is what keeps its order).
            self._queued.discard(contact_id)
            self._active.add(contact_id)
            more = False
            try:
                await self._hold()
                if self._stop.is_set():
                    return
                more = await self._turn(contact_id)
            except RouteFailed as failure:
                self._failed(contact_id, failure)
            except Exception as exc:  # the store failed: the events are still there
                self._failed(contact_id, exc)
            finally:
                self._active.discard(contact_id)
            if more or contact_id in self._again:
                self._again.discard(contact_id)
                self._enqueue(contact_id)

    # ---- one contact's turn -------------------------------------------------------------------

    async def _turn(self, contact_id: str) -> bool:
        """Route up to ``batch_size`` of the contact's events; True when more are waiting."""
        if not await self.claims.claim(contact_id):
            # Another relay routes this contact. It looks again after releasing it, and the
            # catch-up scan would find anything left, so this event is not forgotten.
            return False
        try:
            async with self._renewing(contact_id):
                # One more than a turn routes: whether more wait, without another query.
                records = await self.store.events.pending_for(contact_id, self.batch_size + 1)
                await self._route(records[: self.batch_size])
        finally:
            await self.claims.release(contact_id)
        self._recovered(contact_id)
        if len(records) > self.batch_size:
            return True
        if self.claims.shared:
            # After the release: an event whose gateway found the contact claimed is seen here.
            return await self.store.events.has_pending(contact_id)
        # One relay: an event stored during the turn kicked this contact (``_again``), and
        # the catch-up scan finds one stored by a path that does not kick.
        return False

    @contextlib.asynccontextmanager
    async def _renewing(self, contact_id: str) -> AsyncIterator[None]:
        """Keep the claim alive while a slow turn runs, so no other relay takes over."""
        if not self.claims.shared:
            yield  # nobody else could take it over
            return

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.claims.ttl.total_seconds() / 3)
                if not await self.claims.claim(contact_id):
                    log.warning("relay lost its claim on a contact", contact_id=contact_id)

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _route(self, records: Sequence[EventRecord]) -> None:
        """Route ``records`` in order; mark those done even when one fails or we are stopped."""
        done: list[EventRecord] = []
        try:
            for record in records:
                if self._stop.is_set():
                    break
                assert record.seq is not None
                try:
                    router = await self._get_router()
                    await router.route(record.contact_id, _event(record))
                except RPCError as exc:
                    if exc.status not in PERMANENT:
                        raise RouteFailed(record) from exc
                    await self._give_up(record, exc)
                    continue
                except Exception as exc:
                    raise RouteFailed(record) from exc
                done.append(record)
        finally:
            if done:
                await self.store.events.mark_routed([r.seq for r in done if r.seq is not None])
                self.routed += len(done)
                for record in done:
                    metrics.event_routed(record.received_at)

    async def _give_up(self, record: EventRecord, exc: RPCError) -> None:
        # Retrying cannot help (e.g. a payload over Temporal's size limit), and one such
        # event must not hold back every later one: keep it, flagged, and go on.
        assert record.seq is not None
        error = f"{exc.status.name}: {exc.message}"
        await self.store.events.mark_dead(record.seq, error)
        log.error(
            "relay gave up on an event Temporal refuses",
            contact_id=record.contact_id,
            message_id=record.message_id,
            error=error,
        )

    async def _get_router(self) -> EventRouter:
        if self._router is None:
            async with self._connecting:
                if self._router is None:
                    try:
                        self._router = await self._factory()
                    except Exception as exc:
                        raise TemporalUnavailable(str(exc)) from exc
                    log.info("relay connected to temporal")
        return self._router

    # ---- failures -----------------------------------------------------------------------------

    def _recovered(self, contact_id: str) -> None:
        self._retries.pop(contact_id, None)
        if self.failures:
            log.info("relay recovered", failures=self.failures)
            self.failures = 0

    def _failed(self, contact_id: str, exc: Exception) -> None:
        record = exc.record if isinstance(exc, RouteFailed) else None
        cause = exc.__cause__ if isinstance(exc, RouteFailed) else exc
        if unreachable(cause):
            # Temporal is down for everyone: hold every lane, retry this contact after.
            self.failures += 1
            delay = self._backoff(self.failures)
            self._held_until = asyncio.get_running_loop().time() + delay
            self._enqueue(contact_id)
        else:
            attempt = self._retries[contact_id] = self._retries.get(contact_id, 0) + 1
            delay = self._backoff(attempt)
            self._retry_later(contact_id, delay)
        log_failure(log, contact_id, record, cause, delay)

    def _backoff(self, attempt: int) -> float:
        return min(self.first_backoff * 2 ** (attempt - 1), self.max_backoff)


def kick_relay(app: Any, contact_id: str) -> None:
    """Kick ``app``'s relay for one contact that just got an event to route.

    For the routers that record events outside ``/v1`` (tracking, webhooks). An app without a
    relay (a router mounted alone, as in tests) has nothing to kick: the event waits in the log.
    """
    relay = getattr(app.state, "relay", None)
    if relay is not None:
        relay.kick([contact_id])


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
