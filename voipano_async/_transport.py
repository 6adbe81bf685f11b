"""The one request path below every endpoint method: one call, one result or one stream.

``Transport.request`` and ``Transport.open_stream`` are what the endpoint methods call:
they open the call's span, take a concurrency slot, have the wire half (``_sender``) send
with the retry policy, and turn the answer into a result with its ``meta``, or a stream.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import httpx2

from . import _config
from ._body import read_body, with_body
from ._envelope import api_error, decode_error_body, decode_result, request_id_of
from ._exceptions import APIError, UnexpectedResponseError, VoipanoError
from ._models import ResponseMeta
from ._options import Options, parse_options
from ._pool import Pool
from ._sender import Sender, close_response
from ._telemetry import NO_RECORD, CallRecord

__all__ = ["StreamHandle", "Transport", "iter_chunks"]

T = TypeVar("T")
_NONE: Mapping[str, Any] = MappingProxyType({})


def iter_chunks(
    response: httpx2.Response, chunk_size: int | None = None
) -> AsyncGenerator[bytes, None]:
    """The body's chunks, as a generator that ``aclosing`` can close when we stop early."""
    return response.aiter_bytes(chunk_size)


class Transport(Sender):
    """Makes the calls of one client configuration over a shared ``Pool``."""

    # -- what the endpoint methods call -------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        cl: type[T],
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        charged: bool = False,
        options: Mapping[str, Any] = _NONE,
        operation: str,
    ) -> T:
        """Send one API request with the retry policy and decode its envelope into ``cl``.

        ``options`` is the caller's ``**options`` as the public method received them;
        ``operation`` names the public method, for its span.
        """
        checked = parse_options(options, body=json is not None)
        record = self.pool.telemetry.start(operation, path)
        try:
            result, meta = await self._request(
                method, path, cl, params, json, charged, checked, record
            )
        except BaseException as error:
            record.fail(error)
            raise
        billing = getattr(result, "billing", None)
        record.end(
            attempts=meta.attempts,
            status_code=meta.status_code,
            charged=billing.charged if billing is not None else None,
        )
        return result

    async def _request(
        self,
        method: str,
        path: str,
        cl: type[T],
        params: Mapping[str, Any] | None,
        json: Mapping[str, Any] | None,
        charged: bool,
        options: Options,
        record: CallRecord,
    ) -> tuple[T, ResponseMeta]:
        slot = await self.pool.acquire()
        started = time.perf_counter()
        try:
            with record.use():
                response, content, attempts = await self._send(
                    method,
                    path,
                    params=params,
                    json=json,
                    charged=charged,
                    options=options,
                    record=record,
                )
        finally:
            self.pool.release(slot)
        try:
            result = decode_result(
                response, cl, charged=charged, redact=self.scrub_text, content=content
            )
        except VoipanoError as error:  # ok: false on a 2xx, or an answer that does not fit
            error.attempts = attempts
            if isinstance(error, APIError):
                error.request_line = self.request_line(response.request)
            elif error.request_id is None:
                error.request_id = request_id_of(response.headers, None, self.scrub_text)
            raise
        meta = self._meta(response, attempts, started, getattr(result, "request_id", None))
        # The model is frozen; its ``meta`` (no part of its value) is set here, once.
        object.__setattr__(result, "meta", meta)
        return result, meta

    def _meta(
        self, response: httpx2.Response, attempts: int, started: float, body_id: object = None
    ) -> ResponseMeta:
        """The answer's ``meta``; ``body_id`` is the result's own ``request_id``, if any."""
        request_id = request_id_of(response.headers, None, self.scrub_text)
        if request_id is None and isinstance(body_id, str):
            request_id = body_id
        return ResponseMeta(
            status_code=response.status_code,
            headers=response.headers,
            request_id=request_id,
            attempts=attempts,
            elapsed=time.perf_counter() - started,
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
        checked = parse_options(options, body=False)
        record = self.pool.telemetry.start(operation, endpoint)
        slot = await self.pool.acquire()
        started = time.perf_counter()
        response: httpx2.Response | None = None
        attempts = 0
        try:
            with record.use():
                response, _, attempts = await self._send(
                    "GET", path, params=params, options=checked, stream=True, record=record
                )
                await self._refuse_json_instead_of_audio(response)
        except BaseException as error:
            if isinstance(error, VoipanoError) and attempts:
                error.attempts = attempts
            record.fail(error)
            if response is not None:
                await close_response(response)
            self.pool.release(slot)
            raise
        meta = self._meta(response, attempts, started)
        handle = StreamHandle(response, self.pool, slot, self.pool.hold_for_stream(slot), meta)
        handle.record = record
        return handle

    async def _refuse_json_instead_of_audio(self, response: httpx2.Response) -> None:
        """A download answered with JSON (``ok: false`` on HTTP 200) is an error, not audio."""
        content_type = response.headers.get("content-type", "")
        if not content_type.split(";")[0].strip().lower().endswith("json"):
            return
        content = await read_body(response, _config.MAX_ERROR_BODY_BYTES, truncate=True)
        body = decode_error_body(content, redact=self.scrub_text)
        if isinstance(body, Mapping) and body.get("ok") is False:
            raise api_error(
                with_body(response, content),
                body,
                redact=self.scrub_text,
                request_line=self.request_line(response.request),
            )
        raise UnexpectedResponseError(
            "expected audio but the server answered with JSON",
            status_code=response.status_code,
            body=body,
        )


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
