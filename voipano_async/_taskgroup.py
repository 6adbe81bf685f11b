"""Concurrent work whose caller gets one error, never an exception group.

The rule, written once: when concurrent work fails, the rest of it is cancelled and the
caller gets the failure that comes first in the work's own order (``order=``, e.g. the
page number); among failures of equal order, the one that happened first. Cancellation
caused by that failure is not an error. Cancellation from outside passes through as is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import anyio
import anyio.abc

__all__ = ["FirstErrorGroup"]


class FirstErrorGroup:
    """``async with FirstErrorGroup() as group: group.start_soon(fn, arg, order=n)``.

    An exception from the body of the ``async with`` counts too, with ``body_order``.
    """

    def __init__(self, *, body_order: int = 0) -> None:
        self._body_order = body_order
        self._failures: list[tuple[int, int, Exception]] = []
        self._group: anyio.abc.TaskGroup | None = None

    @property
    def failed(self) -> bool:
        """Whether anything failed yet (the rest is being cancelled)."""
        return bool(self._failures)

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any, order: int = 0) -> None:
        if self._group is None:
            raise RuntimeError("use FirstErrorGroup inside 'async with'")
        self._group.start_soon(self._run, fn, args, order)

    def fail(self, exc: Exception, *, order: int = 0) -> None:
        """Record a failure seen outside a task and cancel the rest."""
        self._failures.append((order, len(self._failures), exc))
        if self._group is not None:
            self._group.cancel_scope.cancel()

    async def _run(
        self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], order: int
    ) -> None:
        try:
            await fn(*args)
        except Exception as exc:
            self.fail(exc, order=order)

    async def __aenter__(self) -> FirstErrorGroup:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        group, self._group = self._group, None
        if group is None:
            raise RuntimeError("FirstErrorGroup exited without being entered")
        handled = isinstance(exc, Exception)
        if isinstance(exc, Exception):
            self._failures.append((self._body_order, len(self._failures), exc))
            group.cancel_scope.cancel()
            await group.__aexit__(None, None, None)
        else:
            await group.__aexit__(exc_type, exc, tb)
        if self._failures:
            raise min(self._failures, key=lambda f: (f[0], f[1]))[2]
        return handled
