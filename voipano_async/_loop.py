"""The blocking client's event loop: one thread per client, stopped at exit.

A ``Voipano`` hands each call to a ``Runner``: an anyio blocking portal serving an event
loop on a daemon thread, so retries, errors, paging and the no-double-charge rules are
the async client's own code, run there.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import os
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
    interpreter alive; at exit its connections are closed and the thread is stopped. In a
    child process after a fork, the parent's thread is not there: the runner starts a
    new one on first use (the async client opens its connections anew), and exit never
    waits on the parent's.
    """

    def __init__(self) -> None:
        self.closed: bool = False
        self.on_stop: Callable[[], Awaitable[None]] | None = None
        self._lock = threading.Lock()
        self._start()

    def _start(self) -> None:
        global _exit_hook_registered
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
        self._pid = os.getpid()
        with _exit_hook:
            if not _exit_hook_registered:
                atexit.register(_close_at_exit)
                _exit_hook_registered = True
        _open_runners.add(self)

    def _forked(self) -> None:
        """In the child of a fork: the loop thread stayed in the parent."""
        self._lock = threading.Lock()  # the parent's threads may have held it
        self._pid = -1

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``fn(*args)`` on the loop and wait; Ctrl-C cancels it there and re-raises."""
        if self.closed:
            raise VoipanoError("this Voipano client is closed; create a new one")
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._start()  # the first use in a child process
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
        if self._pid != os.getpid():
            return  # never started in this process: nothing of its own to stop
        try:
            if self.on_stop is not None:
                self.portal.start_task_soon(self.on_stop).result(timeout)
        finally:
            self.portal.start_task_soon(self.portal.stop).result(timeout)
            self._thread.join(timeout)


def _after_fork_in_child() -> None:
    for runner in list(_open_runners):
        runner._forked()
    _open_runners.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
