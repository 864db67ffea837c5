"""What the provider call needs to be safe: heartbeats, a guarded hand-over and retry delays.

- **Heartbeats** let Temporal cancel a send (an exit: goal, unsubscribe, erasure) and notice a
  dead worker within ``heartbeat_timeout`` instead of the whole start-to-close timeout. They
  start after :data:`HEARTBEAT_AFTER`, so a provider that answers at once costs no heartbeat.
- **The hand-over** runs in its own task. A cancellation that arrives before the provider
  call reached its point of no return (``commit``) stops it; one that arrives after lets it
  finish, so a message the provider has is always recorded.
- **Retry delays** are chosen here, not by the retry policy's doubling: a provider's
  ``Retry-After`` sets the next attempt, and without one the delay doubles up to a cap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import structlog
from temporalio import activity

log = structlog.get_logger(__name__)

T = TypeVar("T")

HEARTBEAT_AFTER = 0.5
HEARTBEAT_EVERY = 1.0
# Without Retry-After: 1 s, 2 s, 4 s ... never more than this between two attempts.
BACKOFF_CAP = timedelta(seconds=60)
# A provider asking for longer than this is asked again sooner (the send stays bounded).
RETRY_AFTER_CAP = timedelta(minutes=10)


async def _beat() -> None:
    await asyncio.sleep(HEARTBEAT_AFTER)
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_EVERY)


@contextlib.asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat while the block runs (the SDK throttles what reaches the server)."""
    beat = asyncio.ensure_future(_beat())
    try:
        yield
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat


async def guarded(work: Awaitable[T], committed: Callable[[], bool]) -> T:
    """Await ``work``; a cancellation stops it only while ``committed()`` is still False.

    Raises:
        asyncio.CancelledError: cancelled before the point of no return (``work`` stopped).
    """
    task = asyncio.ensure_future(work)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                return task.result()
            if not committed():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                raise
            # The provider may have it already: finish and record, whatever asked us to stop.
            log.info("cancellation after the hand-over began; finishing the send")


def retry_delay(retry_after: float | None, attempt: int) -> timedelta:
    """The wait before the next attempt: the provider's ``Retry-After``, else capped doubling."""
    if retry_after is not None:
        return min(max(timedelta(seconds=retry_after), timedelta(seconds=1)), RETRY_AFTER_CAP)
    return min(timedelta(seconds=2 ** min(max(attempt - 1, 0), 12)), BACKOFF_CAP)
