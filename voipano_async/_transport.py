"""The one request path below every endpoint method: one call, one result or one stream.

``Transport`` *has* a ``Sender`` (``_sender``), the wire half. The endpoint methods call
``request`` (or ``prepare`` then ``call``, for a charged call the spend guard must see
built first) and ``open_stream``: each prepares the call once, opens its span, takes a
concurrency slot, has the sender send it, and turns the answer into a result with its
``meta``, or a stream. An error leaving here gets its context (attempts, request line,
the server's request id) in one place, ``_context``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncGenerator, Coroutine, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import anyio
import httpx2

from . import _config
from ._body import read_body, with_body
from ._envelope import api_error, decode_error_body, decode_result, html_page, request_id_of
from ._exceptions import UnexpectedResponseError, VoipanoError
from ._models import Answer, ResponseMeta
from ._phone import mask_phone_numbers
from ._pool import Pool
from ._redact import Redactor
from ._retry import Failure
from ._sender import Call, Sender, close_response
from ._settings import Settings
from ._spend import SpendGuard
from ._telemetry import NO_RECORD, CallRecord

__all__ = ["Call", "StreamHandle", "Transport", "iter_chunks"]

T = TypeVar("T")
A = TypeVar("A", bound=Answer)
_NONE: Mapping[str, Any] = MappingProxyType({})

logger = logging.getLogger("voipano_async")
drift_logger = logging.getLogger("voipano_async.drift")
_INDEX = re.compile(r"\[[0-9]+\]")
_CONTENT_RANGE = re.compile(r"bytes (?P<start>[0-9]+)-[0-9]+/(?P<total>[0-9]+|\*)")
# Places told about, at most: a server drifting everywhere does not grow the set forever.
_TOLD = 1024


def iter_chunks(
    response: httpx2.Response, chunk_size: int | None = None
) -> AsyncGenerator[bytes, None]:
    """The body's chunks, as a generator that ``aclosing`` can close when we stop early."""
    return response.aiter_bytes(chunk_size)


class Transport:
    """Makes the calls of one client configuration over a shared ``Pool``."""

    def __init__(self, settings: Settings, pool: Pool) -> None:
        self.settings = settings
        self.pool = pool
        self.sender: Sender = Sender(settings, pool)
        self.redactor: Redactor = self.sender.redactor
        # The spend guard of this client's account: copies with another token have theirs.
        self.guard: SpendGuard = pool.guard_for(settings.token.value)

    @property
    def closed(self) -> bool:
        """Whether this client, or the client whose pool it shares, has been closed."""
        return self.sender.closed or self.pool.closed

    def close(self) -> None:
        """Refuse every call from now on (the pool is closed by whoever owns it)."""
        self.sender.closed = True

    def check_open(self) -> None:
        self.sender.check_open()

    # -- what the endpoint methods call -------------------------------------------------

    def prepare(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        charged: bool = False,
        stream: bool = False,
        options: Mapping[str, Any] = _NONE,
        operation: str,
        endpoint: str | None = None,
    ) -> Call:
        """Check the caller's ``**options`` and build the request, sending nothing.

        ``options`` is the caller's ``**options`` as the public method received them;
        ``operation`` names the public method and ``endpoint`` the path it stands for
        (``path`` unless it holds an id), for its span.
        """
        return self.sender.prepare(
            method,
            path,
            params=params,
            json=json,
            raw_options=options,
            charged=charged,
            stream=stream,
            operation=operation,
            endpoint=endpoint or path,
        )

    def request(
        self,
        method: str,
        path: str,
        cl: type[T],
        *,
        params: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] = _NONE,
        operation: str,
    ) -> Coroutine[Any, Any, T]:
        """Send one free API request with the retry policy and decode its answer into ``cl``.

        Prepares the call now and returns ``call``'s coroutine: one frame fewer on every
        call's stack (a bad option still raises inside the endpoint's coroutine, which
        awaits this at once).
        """
        call = self.prepare(method, path, params=params, options=options, operation=operation)
        return self.call(call, cl)

    async def charged_call(self, call: Call, path: str, cl: type[A]) -> A:
        """Send a charged call within the spend guard: its price reserved first, settled
        with the answer's billing, or as placed or not when there is none."""
        guard = self.guard
        price = guard.reserve(path)
        try:
            result = await self.call(call, cl)
        except VoipanoError as error:
            guard.settle(path, price, None, placed=error.may_have_been_placed)
            raise
        except BaseException:
            # Cancelled (or failed otherwise): counted, to stay under the limit, unless
            # the call provably never reached the server (still queued for a slot or a
            # rate-limit token, or waiting out a 429 that refused it). The cancellation
            # goes on as it came.
            guard.settle(path, price, None, placed=call.in_doubt)
            raise
        guard.settle(path, price, result.billing, placed=True)
        return result

    async def call(self, call: Call, cl: type[T]) -> T:
        """Send a prepared call and decode its answer into ``cl``, within the call's span."""
        record = call.record = self.pool.telemetry.start(call.operation, call.endpoint)
        try:
            self.pool.check_home()
            slot = None if self.pool.max_concurrency is None else await self.pool.acquire()
            started = time.perf_counter()

            def read(response: httpx2.Response, content: bytes | None) -> T:
                return decode_result(
                    response,
                    cl,
                    charged=call.charged,
                    redact=self.redactor.secret,
                    content=content,
                    strict=self.settings.strict_responses,
                    meta_of=lambda fields, drift: self._meta(
                        response, call.attempts, started, fields.get("request_id"), drift
                    ),
                )

            try:
                with record.use():
                    result: T = await self.sender.send(call, read)
            finally:
                self.pool.release(slot)
        except BaseException as error:
            self._context(error, call)
            record.fail(error)
            raise
        meta = getattr(result, "meta", None)
        if meta is not None and meta.drift:
            self._tell_drift(call, meta.drift)
        billing = getattr(result, "billing", None)
        record.end(
            attempts=call.attempts,
            status_code=call.response.status_code if call.response is not None else None,
            charged=billing.charged if billing is not None else None,
        )
        return result

    def _tell_drift(self, call: Call, notes: tuple[str, ...]) -> None:
        """Drift is never silent: the call's span has every note, and the
        ``voipano_async.drift`` logger one WARNING per endpoint and place per client."""
        clean = [mask_phone_numbers(self.redactor.redact(note)) for note in notes]
        call.record.drift(clean)
        told = self.pool.drift_told
        for note in clean:
            where = _INDEX.sub("[*]", note.partition(": ")[0])
            if (call.endpoint, where) in told or len(told) >= _TOLD:
                continue
            told.add((call.endpoint, where))
            drift_logger.warning(
                "%s %s answered off its published shape, read without loss: %s "
                "(once per place; every note is in the result's meta.drift)",
                call.request.method,
                call.endpoint,
                note,
            )

    def _context(self, error: BaseException, call: Call) -> None:
        """What every error leaving a call carries, set here once: how many attempts it
        took, what was asked, and the server's id for it when its answer gave one."""
        if not isinstance(error, VoipanoError):
            return
        error.attempts = call.attempts
        if error.request_line is None:
            error.request_line = self.redactor.request_line(call.request)
        if error.request_id is None and call.response is not None:
            error.request_id = request_id_of(call.response.headers, None, self.redactor.secret)

    def _meta(
        self,
        response: httpx2.Response,
        attempts: int,
        started: float,
        body_id: object = None,
        drift: tuple[str, ...] = (),
    ) -> ResponseMeta:
        """The answer's ``meta``; ``body_id`` is the answer's own ``request_id``, if any."""
        request_id = request_id_of(response.headers, None, self.redactor.secret)
        if request_id is None and isinstance(body_id, str):
            request_id = body_id
        return ResponseMeta(
            status_code=response.status_code,
            headers=response.headers,
            request_id=request_id,
            attempts=attempts,
            elapsed=time.perf_counter() - started,
            drift=drift,
        )

    async def open_stream(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        options: Mapping[str, Any],
        operation: str,
        endpoint: str,
    ) -> StreamHandle:
        """Open a GET whose body the caller streams; close it with ``StreamHandle.aclose``.

        The call's span runs until the handle is closed.
        """
        call = self.prepare(
            "GET",
            path,
            params=params,
            options=options,
            stream=True,
            operation=operation,
            endpoint=endpoint,
        )
        record = call.record = self.pool.telemetry.start(operation, endpoint)
        slot: object | None = None
        response: httpx2.Response | None = None
        try:
            self.pool.check_home()
            slot = await self.pool.acquire()
            started = time.perf_counter()
            with record.use():
                response, _ = await self.sender.send(call)
                await self._refuse_what_is_not_audio(response)
        except BaseException as error:
            self._context(error, call)
            record.fail(error)
            if response is not None:
                await close_response(response)
            self.pool.release(slot)
            raise
        meta = self._meta(response, call.attempts, started)
        handle = StreamHandle(response, self.pool, slot, self.pool.hold_for_stream(slot), meta)
        handle.record = record
        handle.resumer = Resumer(self, call, response, started)
        return handle

    async def _refuse_what_is_not_audio(self, response: httpx2.Response) -> None:
        """A download is audio or an error: a 2xx page of JSON or HTML is never saved.

        JSON ``ok: false`` (whatever content type it came under) is its ``APIError``; any
        other JSON, or an HTML page (a login or maintenance page), an
        ``UnexpectedResponseError`` saying what answered.
        """
        content_type = response.headers.get("content-type", "")
        kind = content_type.split(";")[0].strip().lower()
        if not (kind.endswith("json") or kind in ("text/html", "application/xhtml+xml")):
            return
        secret = self.redactor.secret
        content = await read_body(response, _config.MAX_ERROR_BODY_BYTES, truncate=True)
        body = decode_error_body(content, redact=secret)
        if isinstance(body, Mapping) and body.get("ok") is False:
            raise api_error(with_body(response, content), body, redact=secret)
        page = html_page(content_type, body)
        raise UnexpectedResponseError(
            f"expected audio but {page or 'the server answered with JSON'}",
            status_code=response.status_code,
            body=body,
        )


class Resumer:
    """Asks again for a download whose body broke off, within the retry policy.

    A download is free and safe to repeat. The same request is sent again, asking with
    ``Range`` for the rest of the file when the first answer was sent as is (no content
    coding to undo) and ``If-Range`` when it named a version (a strong ``ETag`` or a
    ``Last-Modified``); a server that honours it answers ``206`` from where the body broke
    off, and one that does not sends the whole file again, whose first bytes are skipped.
    An answer that is not the same file (another size) ends the retries.
    """

    def __init__(
        self, transport: Transport, call: Call, first: httpx2.Response, started: float
    ) -> None:
        self._transport = transport
        self._call = call
        self._started = started
        headers = first.headers
        self._length = _whole_length(first)
        # Byte ranges count the bytes as sent: only a body sent as is resumes with one.
        self._ranges = _sent_as_is(first)
        etag = headers.get("etag")
        self._version = (
            etag if etag and not etag.startswith("W/") else headers.get("last-modified")
        )

    def context(self, error: BaseException) -> None:
        """What every error leaving the call carries (attempts, request line, request id)."""
        self._transport._context(error, self._call)

    async def resume(
        self, broke: VoipanoError, received: int, record: CallRecord
    ) -> tuple[httpx2.Response, int, ResponseMeta] | None:
        """After the body broke off with ``received`` bytes read: the new answer, how many
        of its first bytes to skip, and its ``meta``; ``None`` when the policy gives up.

        An error of the new attempt (the policy gave up on it) is raised with its context.
        """
        call, transport = self._call, self._transport
        failure = Failure(broke, reason="download broke off", maybe_sent=True, retryable=True)
        retry = transport.settings.retry
        wait = retry.decide(call.attempts, charged=call.charged, failure=failure)
        if wait is None:
            return None
        record.retry(reason=failure.reason, wait=wait, attempt=call.attempts)
        logger.debug(
            "resuming %s after %d bytes in %.2fs",
            transport.redactor.request_line(call.request),
            received,
            wait,
        )
        await anyio.sleep(wait)
        headers = call.request.headers
        if received and self._ranges:
            headers["Range"] = f"bytes={received}-"
            if self._version:
                headers["If-Range"] = self._version
        response: httpx2.Response | None = None
        try:
            transport.pool.check_home()
            with record.use():
                response, _ = await transport.sender.send(call)
                await transport._refuse_what_is_not_audio(response)
        except BaseException as error:
            self.context(error)
            if response is not None:
                await close_response(response)
            raise
        finally:
            headers.pop("Range", None)
            headers.pop("If-Range", None)
        skip = self._skip(response, received)
        if skip is None:
            await close_response(response)
            return None
        return response, skip, transport._meta(response, call.attempts, self._started)

    def _skip(self, response: httpx2.Response, received: int) -> int | None:
        """How many bytes of ``response`` were received already; ``None``: another file."""
        if not received:
            return 0  # nothing to join up with: whatever the first answer promised
        if response.status_code == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", ""))
            if match is None or int(match["start"]) != received:
                return None
            total = match["total"]
            if total != "*" and self._length is not None and int(total) != self._length:
                return None
            return 0
        length = _whole_length(response)
        if self._length is not None and length is not None and length != self._length:
            return None
        return received


def _whole_length(response: httpx2.Response) -> int | None:
    """The size of a whole file sent as is (``Content-Length`` of a 200), when known."""
    if response.status_code != 200 or not _sent_as_is(response):
        return None
    length = response.headers.get("content-length", "")
    return int(length) if length.isdigit() else None


def _sent_as_is(response: httpx2.Response) -> bool:
    return response.headers.get("content-encoding", "").strip().lower() in ("", "identity")


class StreamHandle:
    """An open streaming response and the concurrency slot it holds."""

    def __init__(
        self,
        response: httpx2.Response,
        pool: Pool,
        slot: object | None,
        task: int | None,
        meta: ResponseMeta,
    ) -> None:
        self.response = response
        self.meta = meta
        self.record: CallRecord = NO_RECORD
        self.resumer: Resumer | None = None
        self._pool = pool
        self._slot = slot
        self._task = task

    async def aclose(self, error: BaseException | None = None) -> None:
        """Close the response, free the slot, and end the call's span (failed by ``error``)."""
        try:
            await close_response(self.response)
        finally:
            self._pool.end_stream(self._task, self._slot)
            self._slot = self._task = None
            if error is not None:
                self.record.fail(error)
            else:
                self.record.end(attempts=self.meta.attempts, status_code=self.meta.status_code)
