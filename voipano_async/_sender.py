"""The wire half of the request path: a call prepared once, then sent until it is answered.

Layered as httpx's client is: ``Sender.send`` (attempts, the rate limit, the retry
policy) calls ``_attempt`` (one attempt within the deadline, its outcome classified into an
answer or a ``Failure``), which calls ``_send_handling_redirects`` (GET redirects followed
here, so the token never leaves the API host), which calls ``httpx2.AsyncClient.send``.
Whether to try again is the ``RetryPolicy``'s decision, asked once per failure; the error
the caller gets is built only when it says no. The other half,
``_transport.Transport``, turns what this returns into results and streams.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import anyio
import anyio.lowlevel
import attrs
import httpx2

from . import _config
from ._body import ACCEPT_ENCODING, BodyError, read_body
from ._build import RequestBuilder
from ._exceptions import APIConnectionError, UnexpectedResponseError, VoipanoError
from ._failures import (
    deadline_failure,
    error_of,
    redirect_target,
    status_failure,
    transport_failure,
)
from ._options import parse_options
from ._pool import Pool
from ._redact import Redactor
from ._retry import Failure
from ._settings import Settings
from ._telemetry import NO_RECORD, CallRecord
from ._types import Secret
from ._version import __version__

__all__ = ["Call", "Sender", "close_response"]

R = TypeVar("R")

logger = logging.getLogger("voipano_async")

USER_AGENT = f"voipano-async/{__version__} python/{'.'.join(map(str, sys.version_info[:3]))}"
_HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept": "application/json",
    "Accept-Encoding": ACCEPT_ENCODING,
}

# An answer read whole, or a download's open response (its body unread, ``None``).
Answer = tuple[httpx2.Response, bytes | None]


async def close_response(response: httpx2.Response) -> None:
    """Close ``response`` even while being cancelled: a connection is never left half-read."""
    with anyio.CancelScope(shield=True):
        await response.aclose()


class _Direct(Protocol):
    """A transport the SDK may send on itself, past its client (``AioHttpTransport``)."""

    async def send(self, request: httpx2.Request) -> httpx2.Response: ...


@attrs.define(eq=False)
class Call:
    """One call, its request built once; and what is learnt while it is sent.

    The same request serves every attempt, and the spend guard sees it built before a
    charged call reserves its price: what cannot be sent fails before anything happens.
    """

    request: httpx2.Request
    charged: bool
    stream: bool
    operation: str  # the public method, for its span: "call_otp"
    endpoint: str  # the path it stands for, no ids: "/call-recordings/{cdr_id}"
    extra_headers: Mapping[str, str] | None = None  # the caller's, for redirects too
    record: CallRecord = NO_RECORD
    attempts: int = 0
    # The last attempt's answer, if it had one: the server's id for an error comes from it.
    response: httpx2.Response | None = None
    # Whether the server may have the request: from the moment it is handed to the wire,
    # until an attempt's failure shows it was not acted on (no connection, a 429).
    in_doubt: bool = False


class Sender:
    """Sends the calls of one client configuration over a shared ``Pool``."""

    def __init__(self, settings: Settings, pool: Pool) -> None:
        self.settings = settings
        self.pool = pool
        self.redactor: Redactor = Redactor(settings.token, settings.base_url)
        self.closed = False
        base_url = settings.base_url
        self._origin = (base_url.scheme, base_url.host, base_url.port)
        self._authorization = Secret(f"Bearer {settings.token.value}")
        # Every API request carries these: the URL is the API host's, so the token with them.
        headers = Secret(
            {**_HEADERS, **settings.default_headers, "Authorization": self._authorization.value}
        )
        self._builder = RequestBuilder(lambda: pool.http, str(base_url), headers)

    def check_open(self) -> None:
        if self.closed or self.pool.closed:
            raise VoipanoError(
                "this AsyncVoipano client is closed; create a new one (or use it inside "
                "'async with AsyncVoipano() as client:')"
            )

    def prepare(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Mapping[str, Any] | None,
        raw_options: Mapping[str, Any],
        charged: bool,
        stream: bool,
        operation: str,
        endpoint: str,
    ) -> Call:
        """Build the call's request: the caller's ``**options`` checked and their ``extra_*``
        merged in, the token only to the configured API host (the URL is made from it)."""
        options = parse_options(raw_options, body=json is not None)
        if options.query:
            params = {**(params or {}), **options.query}
        if options.body is not None and json is not None:
            json = {**json, **options.body}
        timeout = options.timeout or (
            self.settings.download_timeout if stream else self.settings.timeout
        )
        request = self._builder.build(
            method, path, params=params, json=json, headers=options.headers, timeout=timeout
        )
        return Call(request, charged, stream, operation, endpoint, options.headers)

    async def send(
        self, call: Call, read: Callable[[httpx2.Response, bytes | None], R] | None = None
    ) -> Any:
        """Attempt ``call`` until it is answered or the policy gives up, raising its error.

        Returns the response with its body, or, for a stream, the open response (its body
        unread) and ``None``; with ``read``, what it makes of them. An answer ``read``
        finds unreadable (cut off, not JSON) fails its attempt as a 5xx does: a free
        read is tried again. ``call.attempts`` counts the attempts made.
        """
        retry = self.settings.retry
        limiter = self.pool.limiter
        while True:
            call.attempts += 1
            self.check_open()
            if limiter is not None:
                await limiter.acquire()
            started = time.perf_counter()
            outcome = await self._attempt(call)
            if logger.isEnabledFor(logging.INFO):
                self._log_outcome(call, outcome, time.perf_counter() - started)
            if not isinstance(outcome, Failure):
                if read is None:
                    return outcome
                try:
                    return read(*outcome)
                except UnexpectedResponseError as error:
                    if not error.unreadable:
                        raise
                    outcome = Failure(
                        error, reason="unreadable answer", maybe_sent=True, retryable=True
                    )
            call.in_doubt = outcome.maybe_sent
            wait = retry.decide(call.attempts, charged=call.charged, failure=outcome)
            if logger.isEnabledFor(logging.DEBUG):
                self._log_decision(call, outcome, wait)
            if wait is None:
                raise error_of(outcome, charged=call.charged, redactor=self.redactor)
            call.record.retry(reason=outcome.reason, wait=wait, attempt=call.attempts)
            await anyio.sleep(wait)

    def _log_outcome(self, call: Call, outcome: Answer | Failure, elapsed: float) -> None:
        if not isinstance(outcome, Failure):
            result = f"-> {outcome[0].status_code}"
        elif outcome.status is not None:
            result = f"-> {outcome.status}"
        else:
            result = f"failed: {outcome.reason}"
        line = self.redactor.request_line(call.request)
        logger.info("%s %s (%.3fs, attempt %d)", line, result, elapsed, call.attempts)

    def _log_decision(self, call: Call, failure: Failure, wait: float | None) -> None:
        line, retry = self.redactor.request_line(call.request), self.settings.retry
        if wait is not None:
            logger.debug(
                "retrying %s after %s in %.2fs (attempt %d of %d)",
                *(line, failure.reason, wait, call.attempts + 1, retry.max_retries + 1),
            )
        elif failure.retry_after is not None and failure.retry_after > retry.max_retry_after:
            logger.debug(
                "not retrying %s: server asked to wait %.1fs (over the %.0fs cap)",
                *(line, failure.retry_after, retry.max_retry_after),
            )

    async def _attempt(self, call: Call) -> Answer | Failure:
        """One attempt: the answer (body read unless streaming), or why it failed.

        The whole attempt, up to the last byte of an API answer (up to the headers of a
        download), must finish within ``deadline``.
        """
        responses: list[httpx2.Response] = []
        call.response = None
        deadline = self.settings.deadline
        with anyio.move_on_after(deadline):
            try:
                response = await self._send_handling_redirects(call, responses)
                call.response = response
                if 200 <= response.status_code < 300:  # is_success, without its enum look-ups
                    if call.stream:
                        return response, None
                    content = await read_body(response, _config.MAX_BODY_BYTES, truncate=False)
                    return response, content
                content = await read_body(response, _config.MAX_ERROR_BODY_BYTES, truncate=True)
                return status_failure(response, content)
            except httpx2.TransportError as exc:
                return transport_failure(call.request, exc)
            except BodyError as exc:
                raise UnexpectedResponseError(
                    f"the answer to {self.redactor.request_line(call.request)} could not be "
                    "decoded",
                    status_code=responses[-1].status_code,
                    problems=[str(exc)],
                    may_have_been_placed=call.charged,
                ) from None
            except RuntimeError as exc:
                # httpx2 raises RuntimeError when a caller's own http_client was closed
                # (or its loop was): the request may have left before it did.
                raise VoipanoError(
                    f"the HTTP client is closed ({self.redactor.redact(str(exc))})",
                    may_have_been_placed=call.charged and call.in_doubt,
                ) from exc
        for response in responses:
            await close_response(response)
        return deadline_failure(call.request, deadline or 0)

    async def _send_handling_redirects(
        self, call: Call, responses: list[httpx2.Response]
    ) -> httpx2.Response:
        """Send, following GET redirects ourselves so the token never leaves the API host."""
        http = self.pool.http
        request = call.request
        for _ in range(_config.MAX_REDIRECTS + 1):
            if call.charged:
                # Cancelled before anything left (an already-cancelled scope): provably
                # unsent, so not placed. (A free call is cancelled at its first wait.)
                await anyio.lowlevel.checkpoint_if_cancelled()
            direct = self._direct(http)  # raises before anything leaves: closed, trio
            call.in_doubt = True
            if direct is not None:
                response = await direct.send(request)
            else:
                response = await http.send(request, stream=True, follow_redirects=False)
            responses.append(response)
            if not (300 <= response.status_code < 400 and request.method == "GET"):
                return response
            location = response.headers.get("location")
            if not location:
                return response
            await close_response(response)
            previous = request
            target = redirect_target(previous, response, location, redactor=self.redactor)
            request = http.build_request("GET", target)
            request.extensions["timeout"] = previous.extensions["timeout"]
            self._authorize(request, call.extra_headers)
        await close_response(response)
        raise APIConnectionError(
            f"too many redirects (more than {_config.MAX_REDIRECTS}) "
            f"for {self.redactor.request_line(request)}"
        )

    def _direct(self, http: httpx2.AsyncClient) -> _Direct | None:
        """The aiohttp transport to send on directly (``DefaultAioHttpClient``), or None."""
        direct = getattr(http, "_voipano_direct", None)
        found: _Direct | None = None if direct is None else direct(self.pool.on_trio)
        return found

    def _authorize(self, request: httpx2.Request, extra: Mapping[str, str] | None) -> None:
        """Set our headers; the token goes only to the configured API host."""
        url = request.url
        request.headers.update(_HEADERS)
        request.headers.update(self.settings.default_headers)
        if (url.scheme, url.host, url.port) == self._origin:
            request.headers["Authorization"] = self._authorization.value
        else:
            request.headers.pop("Authorization", None)
        if extra:
            request.headers.update(extra)
