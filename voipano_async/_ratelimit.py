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

    Args:
        rate: requests per second, a positive finite number; the bucket holds
            ``max(1, rate)`` tokens.
        clock: the time in seconds; by default the running event loop's clock.
        sleep: how to wait; by default ``anyio.sleep``.

    Raises:
        TypeError: ``rate`` is not a number (``bool`` is refused).
        ValueError: ``rate`` is not more than 0, or not finite.
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
        self.rate: float = float(rate)
        self.capacity: float = max(1.0, self.rate)
        self._interval = 1 / self.rate
        self._span = self.capacity / self.rate  # how long an empty bucket takes to fill
        self._clock = clock
        self._sleep = sleep
        # The bucket is kept as its backlog (seconds until it is full again) as of
        # `_updated`: small numbers, so a burst adds up exactly even on a clock that reads
        # 10**5. After its one sleep the head takes its token; re-checking would chase
        # float dust with ever tinier sleeps, which spin on a clock that does not move.
        self._backlog = 0.0
        self._updated = -math.inf
        self._lock: anyio.Lock | None = None

    def moved(self) -> None:
        """The pool moved to another event loop (or process): the lock is made anew there."""
        self._lock = None

    def _now(self) -> float:
        return self._clock() if self._clock is not None else anyio.current_time()

    def _backlog_at(self, now: float) -> float:
        # A clock that went back (another event loop's) counts as no time gone by.
        return max(0.0, self._backlog - max(0.0, now - self._updated))

    async def acquire(self) -> None:
        """Take one token, waiting in line until one is due.

        Cancelled while waiting, the caller leaves the line and no token is spent.
        """
        if self._lock is None:
            # Made on first use, by the event loop that will use it: the client is built
            # outside any loop.
            self._lock = anyio.Lock()
        async with self._lock:
            now = self._now()
            wait = self._backlog_at(now) + self._interval - self._span
            if wait > self._interval * 1e-6:  # less is rounding, not worth a sleep
                await (self._sleep or anyio.sleep)(wait)
                now = self._now()
            self._backlog = self._backlog_at(now) + self._interval
            self._updated = now
