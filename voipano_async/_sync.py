"""The blocking client's machinery: its event-loop thread, streams and report iterator.

There is one implementation of every request: the async one. ``Voipano`` (``_voipano.py``)
owns an anyio blocking portal (one event-loop thread per client) and hands each call to
it, so retries, errors, paging and the no-double-charge rules are the same code as in
``AsyncVoipano``. Its methods are not written out again: each is made here from the
``AsyncVoipano`` method of the same name (``blocking``, ``copying``, ``same_arguments``),
keeping that method's parameters for type checkers, ``help()`` and ``inspect``.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import functools
import inspect
import threading
import types
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, Self, TypeAlias, TypeVar, overload

import anyio.from_thread

from ._client import AsyncVoipano, ClientSettings
from ._exceptions import VoipanoError
from ._models import CallReport, CallReportsPage
from ._pager import CallReportPager
from ._streams import AudioStream, AudioStreamContext, StrPath

__all__ = [
    "AudioStreamSync",
    "BlockingBase",
    "BlockingMethod",
    "CallReportIterator",
    "CopyingMethod",
    "StreamContextSync",
    "blocking",
    "copying",
    "same_arguments",
]

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
B = TypeVar("B", bound="BlockingBase")


# Runners still open when the interpreter exits; closed by ``_close_at_exit``.
_open_runners: weakref.WeakSet[_Runner] = weakref.WeakSet()
_exit_hook = threading.Lock()
_exit_hook_registered = False


def _close_at_exit() -> None:
    """Close what a never-closed ``Voipano`` left open: its connections, then its loop."""
    for runner in list(_open_runners):
        runner.stop(timeout=5)


class _Runner:
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


class AudioStreamSync:
    """A recording being streamed, for the blocking client.

    The blocking twin of [`AudioStream`][voipano_async.AudioStream].

    Attributes:
        filename: A safe file name, from ``Content-Disposition`` or made from the id.
        content_type: E.g. ``"audio/wav"``.
        content_length: The size in bytes, when the server says.
        charged: Credit charged for the download (``X-Billing-Charged``), when sent.
    """

    def __init__(self, stream: AudioStream, runner: _Runner) -> None:
        self._stream = stream
        self._runner = runner
        self.filename: str = stream.filename
        self.content_type: str | None = stream.content_type
        self.content_length: int | None = stream.content_length
        self.charged: int | None = stream.charged

    def __repr__(self) -> str:
        return repr(self._stream).replace("AudioStream(", "AudioStreamSync(", 1)

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Yield the audio in chunks as it arrives."""
        chunks = self._stream.aiter_bytes(chunk_size)
        try:
            while True:
                try:
                    yield self._runner.run(chunks.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            self._runner.run(chunks.aclose)

    def read(self) -> bytes:
        """Read the whole file into memory.

        Prefer [`save`][voipano_async.AudioStreamSync.save] for large files.
        """
        return self._runner.run(self._stream.read)

    def save(self, dest: StrPath) -> Path:
        """Stream the file to disk atomically and return the path written."""
        return self._runner.run(self._stream.save, dest)


class StreamContextSync(AbstractContextManager[AudioStreamSync]):
    """``with`` this to get an ``AudioStreamSync``: ``AudioStreamContext``, blocking."""

    def __init__(self, context: AudioStreamContext, runner: _Runner) -> None:
        self._context = context
        self._runner = runner

    def __enter__(self) -> AudioStreamSync:
        return AudioStreamSync(self._runner.run(self._context.__aenter__), self._runner)

    def __exit__(self, *exc_info: object) -> None:
        self._runner.run(self._context.__aexit__, *exc_info)


class CallReportIterator:
    """Every call report across all pages, for the blocking client.

    ``for report in client.call_reports():``; the blocking twin of
    [`CallReportPager`][voipano_async.CallReportPager].
    """

    def __init__(self, pager: CallReportPager, runner: _Runner) -> None:
        self._pager = pager
        self._runner = runner

    def __iter__(self) -> Iterator[CallReport]:
        return _step(self._pager.__aiter__(), self._runner)

    def pages(self) -> Iterator[CallReportsPage]:
        """Walk the pages instead of the reports.

        Yields [`CallReportsPage`][voipano_async.CallReportsPage] objects.
        """
        return _step(self._pager.pages(), self._runner)


def _step(iterator: Any, runner: _Runner) -> Iterator[Any]:
    while True:
        try:
            yield runner.run(iterator.__anext__)
        except StopAsyncIteration:
            return


class BlockingBase(ClientSettings):
    """What the blocking client adds to the async one: its thread, and closing it.

    ``Voipano`` (``_voipano.py``) builds on this; its settings (``base_url``, ``retry``,
    ``spent``...) are ``ClientSettings``, read from the async client it runs.
    """

    _async: AsyncVoipano
    _runner: _Runner
    _owns_runner: bool

    def _start(self, client: AsyncVoipano) -> None:
        self._async = client
        self._transport = client._transport
        self._runner = _Runner()
        self._runner.on_stop = client.aclose
        self._owns_runner = True

    def _wrap(self, client: AsyncVoipano) -> Self:
        """A client over ``client`` sharing this one's loop thread (``with_options``)."""
        copy = object.__new__(type(self))
        copy._async = client
        copy._transport = client._transport
        copy._runner = self._runner
        copy._owns_runner = False
        return copy

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The methods ``blocking`` made belong to the subclass (``Voipano``), for
        # ``help()``, tracebacks and the docs.
        super().__init_subclass__(**kwargs)
        for name, value in vars(cls).items():
            if isinstance(value, types.FunctionType) and value.__module__ == __name__:
                value.__qualname__ = f"{cls.__qualname__}.{name}"
                value.__module__ = cls.__module__

    @property
    def is_closed(self) -> bool:
        """Whether this client (or the client whose pool it shares) has been closed."""
        return self._async.is_closed or self._runner.closed

    def close(self) -> None:
        """Close the client, its connection pool and its loop thread; twice is harmless."""
        if self._runner.closed:
            return
        if self._owns_runner:
            self._runner.stop()  # closes the pool on the loop first
        else:
            self._runner.run(self._async.aclose)

    def __enter__(self) -> Self:
        if self.is_closed:
            self._runner.run(self._async.__aenter__)  # raises the closed-client error
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- the blocking client's methods, made from the async client's --------------------------


# A method read from the class rather than a client: it takes the client first.
Unbound: TypeAlias = Callable[Concatenate["BlockingBase", P], R]


class BlockingMethod(Protocol[P, R_co]):
    """How type checkers see a method of ``Voipano``: the async method's parameters, ``R_co``.

    At run time it is a plain function (``blocking`` makes it), so it binds, shows in
    ``help()`` and answers ``inspect.signature`` like any method.
    """

    @overload
    def __get__(self, client: None, owner: type[Any], /) -> Unbound[P, R_co]: ...
    @overload
    def __get__(self, client: BlockingBase, owner: type[Any], /) -> Callable[P, R_co]: ...


class CopyingMethod(Protocol[P]):
    """How type checkers see ``Voipano.with_options``: it returns a client of its own type."""

    @overload
    def __get__(self, client: None, owner: type[Any], /) -> Unbound[P, BlockingBase]: ...
    @overload
    def __get__(self, client: B, owner: type[Any], /) -> Callable[P, B]: ...


def _mirror(
    method: Callable[..., Any], call: Callable[..., Any], returns: str | None = None
) -> Any:
    """Give ``call`` the name, parameters and summary of the async ``method`` it runs."""
    name = method.__name__
    call.__name__ = name
    summary = (method.__doc__ or "").strip().partition("\n")[0]
    link = f"AsyncVoipano.{name}"
    call.__doc__ = f"{summary}\n\nThe blocking form of [`{link}`][voipano_async.{link}]."
    signature = inspect.signature(method)
    if returns is not None:
        signature = signature.replace(return_annotation=returns)
    call.__signature__ = signature  # type: ignore[attr-defined]
    return call


# The blocking twin of each async object an endpoint method can return, by class name (the
# methods' annotations are strings): a new kind of async result fails here, at import.
_TWINS: dict[str, type[CallReportIterator | StreamContextSync]] = {
    CallReportPager.__name__: CallReportIterator,
    AudioStreamContext.__name__: StreamContextSync,
}


@overload
def blocking(
    method: Callable[Concatenate[AsyncVoipano, P], CallReportPager],
) -> BlockingMethod[P, CallReportIterator]: ...
@overload
def blocking(
    method: Callable[Concatenate[AsyncVoipano, P], AudioStreamContext],
) -> BlockingMethod[P, StreamContextSync]: ...
@overload
def blocking(
    method: Callable[Concatenate[AsyncVoipano, P], Coroutine[Any, Any, R]],
) -> BlockingMethod[P, R]: ...
def blocking(method: Callable[..., Any]) -> Any:
    """The blocking form of an ``AsyncVoipano`` endpoint method, chosen by what it returns.

    A coroutine is run on the client's loop thread and its result returned; a pager becomes
    a ``CallReportIterator`` and a stream context a ``StreamContextSync``, which run their
    own steps on that thread.
    """
    if inspect.iscoroutinefunction(method):

        def call(client: BlockingBase, /, *args: Any, **kwargs: Any) -> Any:
            return client._runner.run(functools.partial(method, client._async, *args, **kwargs))

        return _mirror(method, call)
    returns = inspect.signature(method).return_annotation
    into = _TWINS.get(getattr(returns, "__name__", returns))
    if into is None:
        raise TypeError(f"no blocking form for {method.__qualname__}, which returns {returns}")

    def call_into(client: BlockingBase, /, *args: Any, **kwargs: Any) -> Any:
        return into(method(client._async, *args, **kwargs), client._runner)

    return _mirror(method, call_into, into.__name__)


def copying(
    method: Callable[Concatenate[AsyncVoipano, P], AsyncVoipano],
) -> CopyingMethod[P]:
    """The blocking form of ``with_options``: the copy, run by this client's loop thread."""

    def call(client: BlockingBase, /, *args: Any, **kwargs: Any) -> Any:
        return client._wrap(method(client._async, *args, **kwargs))

    return _mirror(method, call, "Voipano")  # type: ignore[no-any-return]


def same_arguments(
    source: Callable[P, Any],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Any, P], None]]:
    """Give a constructor ``source``'s parameters (``Voipano.__init__`` from ``AsyncVoipano``)."""

    def decorate(init: Callable[..., None]) -> Callable[Concatenate[Any, P], None]:
        init.__signature__ = inspect.signature(source.__init__)  # type: ignore[attr-defined]
        return init

    return decorate
