"""``Voipano``: the blocking client, running ``AsyncVoipano`` on a background loop.

There is one implementation of every request: the async one. ``Voipano`` owns an anyio
blocking portal (one event-loop thread per client) and hands each call to it, so retries,
errors, paging and the no-double-charge rules are the same code as in ``AsyncVoipano``.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import ssl
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import anyio.from_thread
import httpx2

from . import _config
from ._client import _UNSET, AsyncVoipano
from ._exceptions import VoipanoError
from ._models import (
    CallOtpResult,
    CallReport,
    CallReportsPage,
    CallResult,
    ServiceList,
    VoicemailInboxes,
)
from ._pager import CallReportPager
from ._streams import AudioStream, AudioStreamContext, StrPath
from ._types import TimeoutTypes

__all__ = ["AudioStreamSync", "CallReportIterator", "Voipano"]

T = TypeVar("T")


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


class _StreamContextSync(AbstractContextManager[AudioStreamSync]):
    def __init__(self, context: AudioStreamContext, runner: _Runner) -> None:
        self._context = context
        self._runner = runner

    def __enter__(self) -> AudioStreamSync:
        return AudioStreamSync(self._runner.run(self._context.__aenter__), self._runner)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._runner.run(self._context.__aexit__, exc_type, exc, tb)


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


class Voipano:
    """The blocking client, for Django, Flask, scripts and notebooks.

    Same constructor options, methods, models, errors and retry rules as
    [`AsyncVoipano`][voipano_async.AsyncVoipano], which it runs underneath on one background
    event-loop thread
    per client. Safe to share between threads; usable where an event loop is already
    running in the calling thread (Jupyter). Ctrl-C cancels the request in flight and
    leaves the client usable.

    Examples:
        >>> with Voipano() as client:  # token from VOIPANO_TOKEN
        ...     otp = client.call_otp("09123456789", purpose="login")
        ...     for report in client.call_reports(has_recording=True):
        ...         client.download_call_recording(report, "recordings/")
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx2.Timeout = _config.DEFAULT_TIMEOUT,
        download_timeout: float | httpx2.Timeout = _config.DEFAULT_DOWNLOAD_TIMEOUT,
        max_retries: int = _config.DEFAULT_MAX_RETRIES,
        deadline: float | None = _config.DEFAULT_DEADLINE,
        max_concurrency: int | None = None,
        proxy: str | httpx2.URL | httpx2.Proxy | None = None,
        http_client: httpx2.AsyncClient | None = None,
        spend_limit: int | None = None,
        min_credit: int | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._async = AsyncVoipano(
            token,
            base_url=base_url,
            timeout=timeout,
            download_timeout=download_timeout,
            max_retries=max_retries,
            deadline=deadline,
            max_concurrency=max_concurrency,
            proxy=proxy,
            http_client=http_client,
            spend_limit=spend_limit,
            min_credit=min_credit,
            verify=verify,
        )
        self._runner = _Runner()
        self._runner.on_stop = self._async.aclose
        self._owns_runner = True

    @classmethod
    def _wrap(cls, client: AsyncVoipano, runner: _Runner) -> Voipano:
        sync = object.__new__(cls)
        sync._async = client
        sync._runner = runner
        sync._owns_runner = False
        return sync

    # -- configuration and lifecycle ----------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return self._async.base_url

    @property
    def max_retries(self) -> int:
        """Extra attempts allowed for a failed request."""
        return self._async.max_retries

    @property
    def timeout(self) -> httpx2.Timeout:
        """The HTTP timeout for API calls."""
        return self._async.timeout

    @property
    def spent(self) -> int:
        """Credit spent on charged calls so far by this client and its copies."""
        return self._async.spent

    @property
    def is_closed(self) -> bool:
        """Whether this client (or the client whose pool it shares) has been closed."""
        return self._async.is_closed or self._runner.closed

    def __repr__(self) -> str:
        if not hasattr(self, "_runner"):  # the constructor raised
            return "<Voipano (not initialised)>"
        return f"Voipano(base_url={self.base_url!r}, max_retries={self.max_retries})"

    def with_options(
        self,
        *,
        timeout: float | httpx2.Timeout = _UNSET,
        download_timeout: float | httpx2.Timeout = _UNSET,
        max_retries: int = _UNSET,
        deadline: float | None = _UNSET,
    ) -> Voipano:
        """A client with other settings sharing this one's connection pool and loop."""
        copy = self._async.with_options(
            timeout=timeout,
            download_timeout=download_timeout,
            max_retries=max_retries,
            deadline=deadline,
        )
        return Voipano._wrap(copy, self._runner)

    def close(self) -> None:
        """Close the client, its connection pool and its loop thread; twice is harmless."""
        if self._runner.closed:
            return
        if self._owns_runner:
            self._runner.stop()  # closes the pool on the loop first
        else:
            self._runner.run(self._async.aclose)

    def __enter__(self) -> Voipano:
        if self.is_closed:
            self._runner.run(self._async.__aenter__)  # raises the closed-client error
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- endpoints ----------------------------------------------------------------------

    def call_otp(
        self,
        phone_number: str,
        *,
        purpose: str | None = None,
        client_ref: str | None = None,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> CallOtpResult:
        """Call a number and read out a verification code.

        See [`AsyncVoipano.call_otp`][voipano_async.AsyncVoipano.call_otp].
        """
        return self._runner.run(
            lambda: self._async.call_otp(
                phone_number,
                purpose=purpose,
                client_ref=client_ref,
                request_timeout=request_timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
            )
        )

    def click_to_call(
        self,
        call_source: str,
        call_destination: str,
        *,
        timeout: int | None = None,
        limit: int | None = None,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> CallResult:
        """Ring one number, then connect it to another.

        See [`AsyncVoipano.click_to_call`][voipano_async.AsyncVoipano.click_to_call].
        """
        return self._runner.run(
            lambda: self._async.click_to_call(
                call_source,
                call_destination,
                timeout=timeout,
                limit=limit,
                request_timeout=request_timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
            )
        )

    def secure_call(
        self,
        call_source: str,
        call_destination: str,
        *,
        timeout: int | None = None,
        limit: int | None = None,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> CallResult:
        """Connect two numbers, each hidden from the other (see ``AsyncVoipano.secure_call``)."""
        return self._runner.run(
            lambda: self._async.secure_call(
                call_source,
                call_destination,
                timeout=timeout,
                limit=limit,
                request_timeout=request_timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
            )
        )

    def call_reports_page(
        self,
        page: int = 1,
        *,
        per_page: int | None = None,
        has_recording: bool | None = None,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> CallReportsPage:
        """Fetch one page of call reports.

        See [`AsyncVoipano.call_reports_page`][voipano_async.AsyncVoipano.call_reports_page].
        """
        return self._runner.run(
            lambda: self._async.call_reports_page(
                page,
                per_page=per_page,
                has_recording=has_recording,
                request_timeout=request_timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )
        )

    def call_reports(
        self,
        *,
        per_page: int | None = None,
        has_recording: bool | None = None,
        concurrency: int = _config.DEFAULT_CONCURRENCY,
        max_items: int | None = None,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> CallReportIterator:
        """Every call report across all pages: ``for report in client.call_reports():``.

        Pages after the first are fetched ``concurrency`` at a time; see
        [`AsyncVoipano.call_reports`][voipano_async.AsyncVoipano.call_reports].
        """
        pager = self._async.call_reports(
            per_page=per_page,
            has_recording=has_recording,
            concurrency=concurrency,
            max_items=max_items,
            request_timeout=request_timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        return CallReportIterator(pager, self._runner)

    def services(
        self,
        *,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> ServiceList:
        """List the account's service subscriptions.

        See [`AsyncVoipano.services`][voipano_async.AsyncVoipano.services].
        """
        return self._runner.run(
            lambda: self._async.services(
                request_timeout=request_timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )
        )

    def voicemail_inboxes(
        self,
        *,
        context: str | None = None,
        limit: int | None = None,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> VoicemailInboxes:
        """List voicemail inboxes.

        See [`AsyncVoipano.voicemail_inboxes`][voipano_async.AsyncVoipano.voicemail_inboxes].
        """
        return self._runner.run(
            lambda: self._async.voicemail_inboxes(
                context=context,
                limit=limit,
                request_timeout=request_timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )
        )

    def stream_call_recording(
        self,
        cdr_id: str | CallReport,
        *,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> AbstractContextManager[AudioStreamSync]:
        """Stream a call's recording: ``with client.stream_call_recording(id) as audio:``."""
        stream = self._async.stream_call_recording(
            cdr_id,
            request_timeout=request_timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        return _StreamContextSync(stream, self._runner)

    def stream_voicemail_recording(
        self,
        unique_id: str,
        *,
        context: str,
        mailbox: str,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> AbstractContextManager[AudioStreamSync]:
        """Stream a voicemail message: ``with client.stream_voicemail_recording(...):``."""
        stream = self._async.stream_voicemail_recording(
            unique_id,
            context=context,
            mailbox=mailbox,
            request_timeout=request_timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        return _StreamContextSync(stream, self._runner)

    def download_call_recording(
        self,
        cdr_id: str | CallReport,
        dest: StrPath,
        *,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> Path:
        """Save a call's recording to ``dest`` (a directory or a file); return the path."""
        return self._runner.run(
            lambda: self._async.download_call_recording(
                cdr_id,
                dest,
                request_timeout=request_timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )
        )

    def download_voicemail_recording(
        self,
        unique_id: str,
        dest: StrPath,
        *,
        context: str,
        mailbox: str,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> Path:
        """Save a voicemail message to ``dest`` (a directory or a file); return the path."""
        return self._runner.run(
            lambda: self._async.download_voicemail_recording(
                unique_id,
                dest,
                context=context,
                mailbox=mailbox,
                request_timeout=request_timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )
        )
