"""The client's rate limit: one token bucket, shared by every task and ``with_options`` copy."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import anyio

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``rate`` requests a second on average; bursts of up to ``rate`` at once.

    Waiters are served in the order they asked (an anyio lock is fair): the one at the head
    sleeps until its token is due while the others queue behind it. A waiter cancelled in
    line gives up its place and takes no token.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise TypeError(f"rate_limit must be a number of requests per second, not {rate!r}")
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"rate_limit must be more than 0 requests per second, got {rate!r}")
        self.rate = float(rate)
        self.capacity = max(1.0, self.rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated: float | None = None
        self._lock: anyio.Lock | None = None

    def _now(self) -> float:
        return self._clock() if self._clock is not None else anyio.current_time()

    def _refill(self) -> None:
        now = self._now()
        if self._updated is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> None:
        """Take one token, waiting in line until one is due."""
        if self._lock is None:
            self._lock = anyio.Lock()  # made on first use: it needs a running event loop
        async with self._lock:
            self._refill()
            while self._tokens < 1:
                wait = (1 - self._tokens) / self.rate
                await (self._sleep or anyio.sleep)(wait)
                self._refill()
            self._tokens -= 1
