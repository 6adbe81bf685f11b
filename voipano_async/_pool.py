"""What every client sharing one connection pool shares: the pool, the cap, the guard."""

from __future__ import annotations

import anyio
import httpx2

from ._ratelimit import RateLimiter
from ._spend import SpendGuard
from ._telemetry import Telemetry

__all__ = ["Pool"]


class Pool:
    """The HTTP connection pool and what every client sharing it shares.

    ``AsyncVoipano.with_options`` makes clients that share one pool (and one concurrency
    cap, spend guard and rate limit); the client that created the pool closes it.
    """

    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        owns_http: bool,
        max_concurrency: int | None,
        guard: SpendGuard,
        limiter: RateLimiter | None = None,
        telemetry: Telemetry,
    ) -> None:
        self.http = http
        self.guard = guard
        self.telemetry = telemetry
        # One bucket for every task and every ``with_options`` copy; every attempt takes
        # a token, retries included.
        self.limiter = limiter
        self.owns_http = owns_http
        self.closed = False
        self.max_concurrency = max_concurrency
        self._limiter: anyio.CapacityLimiter | None = None
        self._streaming_tasks: dict[int, int] = {}
        # Where answers drifted, (endpoint, place) once each: told once, not per call.
        self.drift_told: set[tuple[str, str]] = set()

    async def acquire(self) -> object | None:
        """Take a slot for one request or stream; ``None`` when none is needed.

        A task that holds an open stream already has a slot: what it sends while the
        stream is open rides on that slot. Waiting for a second one could deadlock once
        every slot is held by such a task.
        """
        if self.max_concurrency is None:
            return None
        if anyio.get_current_task().id in self._streaming_tasks:
            return None
        if self._limiter is None:
            # Created lazily: anyio needs a running event loop to make one.
            self._limiter = anyio.CapacityLimiter(self.max_concurrency)
        slot = object()
        await self._limiter.acquire_on_behalf_of(slot)
        return slot

    def release(self, slot: object | None) -> None:
        if slot is not None and self._limiter is not None:
            self._limiter.release_on_behalf_of(slot)

    def hold_for_stream(self, slot: object | None) -> int | None:
        """Mark the current task as holding ``slot`` while its stream is open."""
        if slot is None:
            return None
        task = anyio.get_current_task().id
        self._streaming_tasks[task] = self._streaming_tasks.get(task, 0) + 1
        return task

    def end_stream(self, task: int | None, slot: object | None) -> None:
        if task is not None:
            left = self._streaming_tasks.pop(task, 1) - 1
            if left:
                self._streaming_tasks[task] = left
        self.release(slot)

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.owns_http:
            with anyio.CancelScope(shield=True):
                await self.http.aclose()
