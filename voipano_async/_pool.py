"""What every client sharing one connection pool shares: the pool, the cap, the guard.

A pool belongs to one event loop in one process. Used from another (a second
``asyncio.run``, pytest-asyncio's loop per test) or in a child process after a fork
(gunicorn ``--preload``, Celery's prefork), a pool the SDK opened is opened anew there,
lazily, and the old one left alone: its connections belong to a loop that is gone, or to
the parent, whose sockets a child must never write on. A caller's own ``http_client``
cannot be opened anew: using it there fails before anything is sent, saying what to do.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

import anyio
import anyio.lowlevel
import httpx2

from ._exceptions import VoipanoError
from ._ratelimit import RateLimiter
from ._spend import SpendGuard
from ._telemetry import Telemetry

__all__ = ["Pool", "forks"]

# How many forks this process is from the one that imported the SDK: a pool opened in
# another generation is the parent's.
_generation = [0]


def forks() -> int:
    return _generation[0]


def _after_fork_in_child() -> None:
    _generation[0] += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Pool:
    """The HTTP connection pool and what every client sharing it shares.

    ``AsyncVoipano.with_options`` makes clients that share one pool (and one concurrency
    cap, rate limit and telemetry); the client that created the pool closes it. Each
    account (token) has its own spend guard: copies with the same token share it.
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
        reopen: Callable[[], httpx2.AsyncClient] | None = None,
    ) -> None:
        self.http: httpx2.AsyncClient = http
        # How to open the HTTP client anew on another loop or in a child (ours only).
        self._reopen = reopen
        self._home: tuple[object, int] | None = None  # (event loop, fork generation)
        self.on_trio: bool = False  # whether that event loop is trio's
        self._left: list[httpx2.AsyncClient] = []  # pools left behind, never closed
        self.guard = guard
        # Every account's guard, by a digest of its token (never the token itself).
        self._guards: dict[str, SpendGuard] = {}
        self.telemetry = telemetry
        # One bucket for every task and every ``with_options`` copy; every attempt takes
        # a token, retries included.
        self.limiter = limiter
        self.owns_http = owns_http
        self.closed: bool = False
        self.max_concurrency = max_concurrency
        self._limiter: anyio.CapacityLimiter | None = None
        self._streaming_tasks: dict[int, int] = {}
        # Where answers drifted, (endpoint, place) once each: told once, not per call.
        self.drift_told: set[tuple[str, str]] = set()

    def guard_for(self, token: str) -> SpendGuard:
        """The spend guard of the account ``token`` names: the first client's is ``guard``;
        another account's starts at nothing spent, with the same limits."""
        key = hashlib.sha256(token.encode()).hexdigest()
        found = self._guards.get(key)
        if found is None:
            if not self._guards:
                found = self.guard
            else:
                found = SpendGuard(limit=self.guard.limit, min_credit=self.guard.min_credit)
            self._guards[key] = found
        return found

    def check_home(self) -> None:
        """Make sure the pool belongs to the running event loop and this process.

        Called before each request: a pool opened elsewhere is opened anew (ours), or
        refused before anything is sent (the caller's own ``http_client``).
        """
        home = (anyio.lowlevel.current_token().native_token, _generation[0])
        if self._home is None:
            self._settle(home)
            return
        if home[0] is self._home[0] and home[1] == self._home[1]:
            return
        if self._reopen is None:
            moved = (
                "in a child process, after a fork"
                if home[1] != self._home[1]
                else ("on another event loop")
            )
            raise VoipanoError(
                f"this client's http_client was opened elsewhere and is now used {moved}: "
                "its connections cannot be used here, and nothing was sent. Create the "
                "client (and the httpx2.AsyncClient you give it) in the process and on the "
                "event loop that use it: in the application's lifespan, or after the fork "
                "(gunicorn's post_fork, Celery's worker_process_init)"
            )
        # Left open, never closed: closing would touch a loop that is gone, or write on
        # sockets the parent still uses.
        self._left.append(self.http)
        self.http = self._reopen()
        self._limiter = None  # anyio's limiter and lock belong to the loop that made them
        self._streaming_tasks.clear()
        if self.limiter is not None:
            self.limiter.moved()
        self._settle(home)

    def _settle(self, home: tuple[object, int]) -> None:
        self._home = home
        self.on_trio = "trio" in type(home[0]).__module__

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
