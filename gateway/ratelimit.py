"""A token bucket per write key: past the configured rate a call gets 429 with ``Retry-After``.

In-process and lock-free (the gateway runs one event loop): each key's bucket refills at
``rate`` tokens a second up to ``burst``; a call takes one token. Several gateway processes
each keep their own buckets, so the limit is per process, which is what protects each one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from gateway.errors import ApiError

# Buckets of keys unseen for this long are dropped, so rotated keys do not pile up.
IDLE_SECONDS = 600.0


class RateLimiter:
    """Token buckets by key id.

    Args:
        rate: tokens added per second; 0 turns the limit off.
        burst: the bucket's size (calls allowed at once after a quiet spell).
        clock: monotonic seconds (tests pass a fake).
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, at)
        self._swept = clock()

    def retry_after(self, key_id: str) -> float:
        """Take a token for ``key_id``: 0.0 when allowed, else seconds until one is free."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        tokens, at = self._buckets.get(key_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[key_id] = (tokens - 1.0, now)
            self._sweep(now)
            return 0.0
        self._buckets[key_id] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def check(self, key_id: str) -> None:
        """Take a token, or raise the 429.

        Raises:
            ApiError: 429 with ``Retry-After`` in whole seconds (at least 1).
        """
        wait = self.retry_after(key_id)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                "authorization",
                f"too many calls for this write key (limit {self.rate:g}/s, burst {self.burst}); "
                "retry later",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )

    def _sweep(self, now: float) -> None:
        if now - self._swept < IDLE_SECONDS:
            return
        self._swept = now
        for key, (_, at) in list(self._buckets.items()):
            if now - at > IDLE_SECONDS:
                del self._buckets[key]
