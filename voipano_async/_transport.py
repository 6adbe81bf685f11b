"""The one request path below every endpoint method.

Each attempt is built, sent (redirects followed here, so the token never leaves the API
host), bounded by the deadline and classified into an answer or a ``Failure``; whether to
try again is the ``RetryPolicy``'s decision (``_retry``), asked once per failure.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncGenerator, Mapping
from typing import Any, TypeVar

import anyio
import httpx2

from . import _config
from ._body import ACCEPT_ENCODING, BodyError, read_body, with_body
from ._envelope import api_error, decode_error_body, decode_result, parse_retry_after
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    RateLimitError,
    UnexpectedResponseError,
    VoipanoError,
)
from ._options import NO_OPTIONS, RequestOptions
from ._phone import mask_phone_numbers
from ._pool import Pool
from ._retry import (
    CERTIFICATE_HELP,
    PERMANENT,
    Failure,
    RetryPolicy,
    certificate_failure,
    describe_failure,
)
from ._types import Secret
from ._version import __version__

__all__ = ["StreamHandle", "Transport", "iter_chunks"]

T = TypeVar("T")

logger = logging.getLogger("voipano_async")

USER_AGENT = f"voipano-async/{__version__} python/{'.'.join(map(str, sys.version_info[:3]))}"


async def _close(response: httpx2.Response) -> None:
    with anyio.CancelScope(shield=True):
        await response.aclose()


def iter_chunks(
    response: httpx2.Response, chunk_size: int | None = None
) -> AsyncGenerator[bytes, None]:
    """The body's chunks, as a generator that ``aclosing`` can close when we stop early."""
    return response.aiter_bytes(chunk_size)


class Transport:
    """Sends requests for one client configuration over a shared ``Pool``."""

    def __init__(
        self,
        *,
        token: Secret[str],
        base_url: httpx2.URL,
        pool: Pool,
        timeout: httpx2.Timeout,
        download_timeout: httpx2.Timeout,
        retry: RetryPolicy,
        deadline: float | None,
    ) -> None:
        self.token = token
        self.deadline = deadline
        self.base_url = base_url
        self.pool = pool
        self.timeout = timeout
        self.download_timeout = download_timeout
        self.retry = retry
        self.closed = False
        self._base = str(base_url).rstrip("/")
        self._origin = (base_url.scheme, base_url.host, base_url.port)
        self._headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        self._authorization = Secret(f"Bearer {token.value}")
        # Every API request carries these; built once, merged by httpx in one step.
        self._api_headers = Secret({**self._headers, "Authorization": self._authorization.value})
        # Text the server echoes back is scrubbed of the token. A token of a few
        # characters is a test stand-in; scrubbing it would garble every message.
        self._scrub = token if len(token.value) >= 8 else None

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
        options: RequestOptions = NO_OPTIONS,
    ) -> T:
        """Send one API request with the retry policy and decode its envelope into ``cl``."""
        slot = await self.pool.acquire()
        try:
            response, content = await self._send(
                method, path, params=params, json=json, charged=charged, options=options
            )
        finally:
            self.pool.release(slot)
        return decode_result(
            response,
            cl,
            charged=charged,
            redact=self._scrub_text,
            content=content,
            request_line=self._request_line(response.request),
        )

    async def open_stream(
        self, path: str, *, params: Mapping[str, Any] | None, options: RequestOptions
    ) -> StreamHandle:
        """Open a GET whose body the caller streams; close it with ``StreamHandle.aclose``."""
        slot = await self.pool.acquire()
        response: httpx2.Response | None = None
        try:
            response, _ = await self._send(
                "GET", path, params=params, options=options, stream=True
            )
            await self._refuse_json_instead_of_audio(response)
        except BaseException:
            if response is not None:
                await _close(response)
            self.pool.release(slot)
            raise
        return StreamHandle(response, self.pool, slot, self.pool.hold_for_stream(slot))

    async def _refuse_json_instead_of_audio(self, response: httpx2.Response) -> None:
        """A download answered with JSON (``ok: false`` on HTTP 200) is an error, not audio."""
        content_type = response.headers.get("content-type", "")
        if not content_type.split(";")[0].strip().lower().endswith("json"):
            return
        content = await read_body(response, _config.MAX_ERROR_BODY_BYTES, truncate=True)
        body = decode_error_body(content, redact=self._scrub_text)
        if isinstance(body, Mapping) and body.get("ok") is False:
            raise api_error(
                with_body(response, content),
                body,
                redact=self._scrub_text,
                request_line=self._request_line(response.request),
            )
        raise UnexpectedResponseError(
            "expected audio but the server answered with JSON",
            status_code=response.status_code,
            body=body,
        )

    # -- the policy ---------------------------------------------------------------------

    def check_open(self) -> None:
        if self.closed or self.pool.closed:
            raise VoipanoError(
                "this AsyncVoipano client is closed; create a new one (or use it inside "
                "'async with AsyncVoipano() as client:')"
            )

    def _target(self, url: httpx2.URL) -> str:
        """How a URL appears in logs and messages: API paths relative, phones masked."""
        if (url.scheme, url.host, url.port) == self._origin:
            path = url.raw_path.decode("ascii", "replace")
            prefix = self.base_url.raw_path.decode("ascii", "replace").rstrip("/")
            shown = path[len(prefix) :] if path.startswith(prefix) else path
        else:
            shown = f"{url.scheme}://{url.host}{url.path}"
        return mask_phone_numbers(shown)

    def _build(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        json: Mapping[str, Any] | None,
        options: RequestOptions,
        timeout: httpx2.Timeout,
    ) -> httpx2.Request:
        if options.query:
            params = {**(params or {}), **options.query}
        if options.body is not None and json is not None:
            json = {**json, **options.body}
        headers = self._api_headers.value
        if options.headers:
            headers = {**headers, **options.headers}
        return self.pool.http.build_request(
            method,
            url,
            params=params,
            json=json,
            headers=headers,
            timeout=options.timeout or timeout,
        )

    def _authorize(self, request: httpx2.Request, options: RequestOptions) -> None:
        """Set our headers; the token goes only to the configured API host."""
        url = request.url
        request.headers.update(self._headers)
        if (url.scheme, url.host, url.port) == self._origin:
            request.headers["Authorization"] = self._authorization.value
        else:
            request.headers.pop("Authorization", None)
        if options.headers:
            request.headers.update(options.headers)

    def check_request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None,
        options: RequestOptions,
    ) -> None:
        """Build the request once without sending it: what cannot be sent fails here."""
        self._build(
            method,
            self._base + path,
            params=None,
            json=json,
            options=options,
            timeout=self.timeout,
        )

    def _request_line(self, request: httpx2.Request) -> str:
        return f"{request.method} {self._target(request.url)}"

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        charged: bool = False,
        options: RequestOptions = NO_OPTIONS,
        stream: bool = False,
    ) -> tuple[httpx2.Response, bytes | None]:
        """Build, send, classify, and ask the retry policy, until an answer or a final error.

        Returns the response with its decoded body, or, with ``stream``, the open response
        (its body unread) and ``None``.
        """
        timeout = self.download_timeout if stream else self.timeout
        attempt = 0
        while True:
            attempt += 1
            self.check_open()
            request = self._build(
                method,
                self._base + path,
                params=params,
                json=json,
                options=options,
                timeout=timeout,
            )
            started = time.perf_counter()
            outcome = await self._attempt(request, options, charged=charged, stream=stream)
            if not isinstance(outcome, Failure):
                if logger.isEnabledFor(logging.INFO):
                    logger.info(
                        "%s -> %d (%.3fs, attempt %d)",
                        self._request_line(request),
                        outcome[0].status_code,
                        time.perf_counter() - started,
                        attempt,
                    )
                return outcome
            line = self._request_line(request)
            if outcome.status is None:
                logger.info(
                    "%s failed: %s (%.3fs, attempt %d)",
                    line,
                    outcome.reason,
                    time.perf_counter() - started,
                    attempt,
                )
            else:
                logger.info(
                    "%s -> %d (%.3fs, attempt %d)",
                    line,
                    outcome.status,
                    time.perf_counter() - started,
                    attempt,
                )
            wait = self.retry.decide(attempt, charged=charged, failure=outcome)
            if wait is None:
                if (
                    outcome.retry_after is not None
                    and outcome.retry_after > self.retry.max_retry_after
                ):
                    logger.debug(
                        "not retrying %s: server asked to wait %.1fs (over the %.0fs cap)",
                        line,
                        outcome.retry_after,
                        self.retry.max_retry_after,
                    )
                raise outcome.error
            logger.debug(
                "retrying %s after %s in %.2fs (attempt %d of %d)",
                line,
                outcome.reason,
                wait,
                attempt + 1,
                self.retry.max_retries + 1,
            )
            await anyio.sleep(wait)

    async def _attempt(
        self, request: httpx2.Request, options: RequestOptions, *, charged: bool, stream: bool
    ) -> tuple[httpx2.Response, bytes | None] | Failure:
        """One attempt: the answer (body read unless streaming), or why it failed.

        The whole attempt, up to the last byte of an API answer (up to the headers of a
        download), must finish within ``deadline``.
        """
        responses: list[httpx2.Response] = []
        line = self._request_line(request)
        with anyio.move_on_after(self.deadline):
            try:
                response = await self._send_following_redirects(request, options, responses)
                if response.is_success:
                    if stream:
                        return response, None
                    content = await read_body(response, _config.MAX_BODY_BYTES, truncate=False)
                    return response, content
                content = await read_body(response, _config.MAX_ERROR_BODY_BYTES, truncate=True)
                return self._status_failure(request, response, content, charged)
            except httpx2.TransportError as exc:
                return self._transport_failure(request, exc, charged)
            except BodyError as exc:
                raise UnexpectedResponseError(
                    f"the answer to {line} could not be decoded",
                    status_code=responses[-1].status_code,
                    problems=[str(exc)],
                    may_have_been_placed=charged,
                ) from None
            except RuntimeError as exc:
                # httpx2 raises RuntimeError when a caller's own http_client was closed.
                raise VoipanoError(
                    f"the HTTP client is closed ({self._redact(str(exc))})"
                ) from exc
        # The deadline passed: whatever was open is closed, and the request may have been
        # acted on (it was sent, or may have been).
        for response in responses:
            await _close(response)
        return Failure(
            APITimeoutError(
                f"deadline exceeded on {line}: no complete answer within "
                f"{self.deadline or 0:g}s (the client's deadline=)",
                may_have_been_placed=charged,
            ),
            reason="deadline exceeded",
            maybe_sent=True,
            retryable=True,
        )

    def _status_failure(
        self, request: httpx2.Request, response: httpx2.Response, content: bytes, charged: bool
    ) -> Failure:
        status = response.status_code
        # The server answered: a charged call is unsafe to repeat unless the answer
        # says the server refused it (4xx), and only 429 is retried.
        error = api_error(
            with_body(response, content),
            decode_error_body(content, redact=self._scrub_text),
            may_have_been_placed=charged and status >= 500,
            redact=self._scrub_text,
            request_line=self._request_line(request),
        )
        retry_after = (
            error.retry_after
            if isinstance(error, RateLimitError)
            else parse_retry_after(response.headers.get("retry-after"))
        )
        return Failure(
            error,
            reason=f"HTTP {status}",
            maybe_sent=status != 429,
            retryable=status in _config.RETRYABLE_STATUS_CODES,
            retry_after=retry_after,
            status=status,
        )

    def _transport_failure(
        self, request: httpx2.Request, exc: httpx2.TransportError, charged: bool
    ) -> Failure:
        error_cls, maybe_sent, reason = describe_failure(exc)
        untrusted = certificate_failure(exc)
        url = request.url
        where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        detail = self._redact(str(exc) or type(exc).__name__)
        if untrusted is not None:
            detail = CERTIFICATE_HELP.format(detail=self._redact(untrusted))
        error = error_cls(
            f"{reason} on {self._request_line(request)} ({where}): {detail}",
            may_have_been_placed=charged and maybe_sent,
        )
        return Failure(
            error,
            reason=reason,
            maybe_sent=maybe_sent,
            retryable=not isinstance(exc, PERMANENT) and untrusted is None,
        )

    async def _send_following_redirects(
        self, request: httpx2.Request, options: RequestOptions, responses: list[httpx2.Response]
    ) -> httpx2.Response:
        """Send, following GET redirects ourselves so the token never leaves the API host."""
        http = self.pool.http
        for _ in range(_config.MAX_REDIRECTS + 1):
            response = await http.send(request, stream=True, follow_redirects=False)
            responses.append(response)
            location = response.headers.get("location")
            if not (response.is_redirect and request.method == "GET" and location):
                return response
            await _close(response)
            previous = request
            target = self._redirect_target(previous, response, location)
            request = http.build_request("GET", target)
            request.extensions["timeout"] = previous.extensions["timeout"]
            self._authorize(request, options)
        await _close(response)
        raise APIConnectionError(
            f"too many redirects (more than {_config.MAX_REDIRECTS}) "
            f"for {self._request_line(request)}"
        )

    def _redirect_target(
        self, request: httpx2.Request, response: httpx2.Response, location: str
    ) -> httpx2.URL:
        """Where a redirect leads, or an ``APIError`` when it leads nowhere we can go."""
        problem = None
        try:
            url = request.url.join(location)
        except (httpx2.InvalidURL, ValueError, TypeError) as exc:
            problem = str(exc)
        else:
            if url.scheme not in {"http", "https"}:
                problem = f"the scheme {url.scheme or 'none'!r} cannot be fetched"
            elif not url.host:
                problem = "it names no host"
            elif url.port is not None and not 0 < url.port < 65536:
                problem = f"the port {url.port} does not exist"
        if problem is None:
            return url
        raise APIError(
            f"the server redirected to a location that cannot be followed ({problem})",
            status_code=response.status_code,
            body=self._redact(location[:200]),
            response=response,
            request_line=self._request_line(request),
        )

    @property
    def _scrub_text(self) -> str | None:
        return self._scrub.value if self._scrub else None

    def _redact(self, text: str) -> str:
        return text.replace(self._scrub.value, "***") if self._scrub else text


class StreamHandle:
    """An open streaming response and the concurrency slot it holds."""

    def __init__(
        self, response: httpx2.Response, pool: Pool, slot: object | None, task: int | None
    ) -> None:
        self.response = response
        self._pool = pool
        self._slot = slot
        self._task = task

    async def aclose(self) -> None:
        try:
            await _close(self.response)
        finally:
            self._pool.end_stream(self._task, self._slot)
            self._slot = self._task = None
