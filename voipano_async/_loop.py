"""The blocking client's event loop: one thread per client, stopped at exit.

A ``Voipano`` hands each call to a ``Runner``: an anyio blocking portal serving an event
loop on a daemon thread, so retries, errors, paging and the no-double-charge rules are
the async client's own code, run there.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio.from_thread

from ._exceptions import VoipanoError

__all__ = ["Runner"]

T = TypeVar("T")


# Runners still open when the interpreter exits; closed by ``_close_at_exit``.
_open_runners: weakref.WeakSet[Runner] = weakref.WeakSet()
_exit_hook = threading.Lock()
_exit_hook_registered = False


def _close_at_exit() -> None:
    """Close what a never-closed ``Voipano`` left open: its connections, then its loop."""
    for runner in list(_open_runners):
        runner.stop(timeout=5)


class Runner:
    """The background event loop shared by a ``Voipano`` and its ``with_options`` copies.

    The loop runs on a daemon thread, so a client that is never closed does not keep the
    interpreter alive; at exit its connections are closed and the thread is stopped.
    """

    def __init__(self) -> None:
        global _exit_hook_registered
        self.closed: bool = False
        self.on_stop: Callable[[], Awaitable[None]] | None = None
        self._lock = threading.Lock()
        started = threading.Event()
        portals: list[anyio.from_thread.BlockingPortal] = []

        async def serve() -> None:
            async with anyio.from_thread.BlockingPortal() as portal:
                portals.append(portal)
                started.set()
                await portal.sleep_until_stopped()

        def loop() -> None:
            try:
                anyio.run(serve, backend="asyncio")
            finally:
                started.set()

        self._thread = threading.Thread(target=loop, name="voipano-loop", daemon=True)
        self._thread.start()
        started.wait()
        if not portals:
            raise VoipanoError("the blocking client could not start its event loop")
        self.portal: anyio.from_thread.BlockingPortal = portals[0]
        with _exit_hook:
            if not _exit_hook_registered:
                atexit.register(_close_at_exit)
                _exit_hook_registered = True
        _open_runners.add(self)

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``fn(*args)`` on the loop and wait; Ctrl-C cancels it there and re-raises."""
        if self.closed:
            raise VoipanoError("this Voipano client is closed; create a new one")
        future = self.portal.start_task_soon(fn, *args)
        try:
            return future.result()
        except KeyboardInterrupt:
            # Cancel the request on the loop and wait for it to unwind, so that the
            # connection is given back and the client stays usable.
            future.cancel()
            concurrent.futures.wait([future], timeout=10)
            raise

    def stop(self, timeout: float | None = None) -> None:
        """Run ``on_stop`` on the loop, then end the loop and its thread; twice is harmless."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        _open_runners.discard(self)
        try:
            if self.on_stop is not None:
                self.portal.start_task_soon(self.on_stop).result(timeout)
        finally:
            self.portal.start_task_soon(self.portal.stop).result(timeout)
            self._thread.join(timeout)
