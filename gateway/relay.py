"""The relay: moves stored events to their journeys in Temporal, in order, and never drops one.

The gateway answers a call once the event is stored; this background task then takes the
unrouted events oldest first, routes each one and marks it routed. While Temporal is down (or not
started yet) the relay keeps the event, backs off exponentially and tries the same event again,
so nothing is lost and order is kept. Routing is at-least-once: a crash between routing and
marking re-sends the event, and journeys drop duplicates by ``messageId``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog
from temporalio.service import RPCError, RPCStatusCode

from activities import metrics
from store import Store
from store.records import EventRecord
from workflows.models import Event

log = structlog.get_logger(__name__)

# The backoff cap, as a multiple of the poll interval: a recovered Temporal gets the backlog
# within a few intervals, while a dead one is not hammered.
BACKOFF_FACTOR = 5
# Refusals that no retry can turn into an acceptance.
PERMANENT = frozenset({RPCStatusCode.INVALID_ARGUMENT})
BACKOFF_FIRST = 0.1


class EventRouter(Protocol):
    """What the relay needs from :class:`workflows.routing.Router` (tests pass fakes)."""

    async def route(self, contact_id: str, event: Event) -> object:
        """Deliver ``event`` to the contact's journeys; raise to have it retried."""
        ...


RouterFactory = Callable[[], Awaitable[EventRouter]]


class TemporalUnavailable(RuntimeError):
    """The router could not be built, usually because Temporal refused the connection."""


class Relay:
    """A background task that routes stored events to journeys.

    Args:
        store: the contact store whose event log is relayed.
        router_factory: builds the router (and its Temporal client); called lazily on the
            first event and again after it failed, so the gateway runs while Temporal is down.
        interval: seconds between polls when nobody calls :meth:`kick`.
        batch_size: events read per pass.
        max_backoff: longest pause after failures; ``interval * BACKOFF_FACTOR`` by default.
        stop_grace: seconds :meth:`stop` lets a pass finish before cancelling it.
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
    ) -> None:
        self.store = store
        self.interval = interval
        self.batch_size = batch_size
        self.max_backoff = max_backoff if max_backoff is not None else interval * BACKOFF_FACTOR
        self.first_backoff = min(BACKOFF_FIRST, self.max_backoff)
        self.stop_grace = stop_grace
        self.failures = 0
        self.routed = 0
        self._factory = router_factory
        self._router: EventRouter | None = None
        self._current: EventRecord | None = None
        self._kick = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """True once a router exists (Temporal answered a connect)."""
        return self._router is not None

    @property
    def running(self) -> bool:
        """True while the background task runs."""
        return self._task is not None and not self._task.done()

    def kick(self) -> None:
        """Wake the relay now (a new event was stored), instead of at the next poll."""
        self._kick.set()

    def start(self) -> None:
        """Start the background task (idempotent)."""
        if self.running:
            return
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="sojourn-relay")

    async def stop(self) -> None:
        """Stop the task: let the current pass finish for ``stop_grace`` seconds, then cancel.

        Cancelling mid-route is safe: the event stays unrouted and is routed again next time.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        self._kick.set()
        _, pending = await asyncio.wait({task}, timeout=self.stop_grace)
        if pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def drain(self) -> int:
        """Route up to ``batch_size`` unrouted events, oldest first; how many were routed.

        Stops at the first failure and raises it: the failed event stays first in line, so
        later events of the same contact never overtake it.
        """
        done = 0
        for record in await self.store.events.unrouted(self.batch_size):
            if self._stop.is_set():
                break
            self._current = record
            router = await self._get_router()
            assert record.seq is not None
            try:
                await router.route(
                    record.contact_id,
                    Event(
                        message_id=record.message_id,
                        name=record.name,
                        properties=record.properties,
                        timestamp=record.timestamp,
                    ),
                )
            except RPCError as exc:
                if exc.status not in PERMANENT:
                    raise
                # Retrying cannot help (e.g. a payload over Temporal's size limit), and one
                # such event must not hold back every later one: keep it, flagged, and go on.
                await self.store.events.mark_dead(record.seq, f"{exc.status.name}: {exc.message}")
                log.error(
                    "relay gave up on an event Temporal refuses",
                    contact_id=record.contact_id,
                    message_id=record.message_id,
                    error=f"{exc.status.name}: {exc.message}",
                )
                self._current = None
                continue
            await self.store.events.mark_routed([record.seq])
            self._current = None
            done += 1
            self.routed += 1
            metrics.event_routed(record.received_at)
        return done

    async def _get_router(self) -> EventRouter:
        if self._router is None:
            try:
                self._router = await self._factory()
            except Exception as exc:
                raise TemporalUnavailable(str(exc)) from exc
            log.info("relay connected to temporal")
        return self._router

    async def _run(self) -> None:
        while not self._stop.is_set():
            # Cleared before reading the log: a kick during the pass triggers another pass.
            self._kick.clear()
            try:
                done = await self.drain()
            except Exception as exc:
                self.failures += 1
                delay = self._backoff()
                self._log_failure(exc, delay)
                # New events do not shorten a backoff: kicks would otherwise hammer a dead server.
                await _wait(self._stop, delay)
                continue
            if self.failures:
                log.info("relay recovered", failures=self.failures)
                self.failures = 0
            if done >= self.batch_size:
                continue  # more are waiting
            await _wait(self._kick, self.interval)

    def _backoff(self) -> float:
        return min(self.first_backoff * 2 ** (self.failures - 1), self.max_backoff)

    def _log_failure(self, exc: Exception, delay: float) -> None:
        # Ids only: traits and properties may hold personal data.
        record, self._current = self._current, None
        fields = dict(
            contact_id=record.contact_id if record else None,
            message_id=record.message_id if record else None,
            attempt=self.failures,
            retry_in=round(delay, 3),
        )
        if isinstance(exc, TemporalUnavailable):
            log.warning("relay cannot reach temporal; will retry", error=str(exc), **fields)
        elif isinstance(exc, RPCError):
            log.warning(
                "relay could not route event; will retry",
                error=f"{exc.status.name}: {exc.message}",
                **fields,
            )
        else:
            log.error("relay failed; will retry", exc_info=exc, **fields)


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
