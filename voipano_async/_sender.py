"""The wire half of the request path: build, send, classify, ask the retry policy.

Each attempt is built, sent (redirects followed here, so the token never leaves the API
host), bounded by the deadline and classified into an answer or a ``Failure``; whether to
try again is the ``RetryPolicy``'s decision (``_retry``), asked once per failure. The
other half, ``_transport.Transport``, turns what this returns into results and streams.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

import anyio
import httpx2

from . import _config
from ._body import ACCEPT_ENCODING, BodyError, read_body
from ._exceptions import APIConnectionError, APITimeoutError, UnexpectedResponseError, VoipanoError
from ._failures import Failure, redirect_target, status_failure, transport_failure
from ._options import NO_OPTIONS, Options, parse_options
from ._phone import mask_phone_numbers
from ._pool import Pool
from ._settings import Settings
from ._telemetry import NO_RECORD, CallRecord
from ._types import Secret
from ._version import __version__

__all__ = ["Sender", "close_response"]

logger = logging.getLogger("voipano_async")

# Paths whose parsed URL is kept; ids make more of them, and those are parsed each time.
_URL_CACHE_SIZE = 64
_BUILD_REQUEST = httpx2.AsyncClient.build_request

USER_AGENT = f"voipano-async/{__version__} python/{'.'.join(map(str, sys.version_info[:3]))}"


async def close_response(response: httpx2.Response) -> None:
    """Close ``response`` even while being cancelled: a connection is never left half-read."""
    with anyio.CancelScope(shield=True):
        await response.aclose()


class Sender:
    """Sends requests for one client configuration over a shared ``Pool``."""

    def __init__(self, settings: Settings, pool: Pool) -> None:
        self.settings = settings
        self.pool = pool
        token = self.token = settings.token
        base_url = self.base_url = settings.base_url
        self.timeout = settings.timeout
        self.download_timeout = settings.download_timeout
        self.retry = settings.retry
        self.deadline = settings.deadline
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
        # Text the server echoes back is scrubbed of the token, whatever its length.
        self._scrub = token
        self._urls: dict[str, httpx2.URL] = {}
        self._merged: Secret[tuple[httpx2.Headers, list[Any], httpx2.Headers] | None]
        self._merged = Secret(None)
        self._timeouts: tuple[httpx2.Timeout, dict[str, Any]] | None = None

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

    def _url(self, path: str) -> httpx2.URL:
        """The API URL of ``path``, parsed once per path (the endpoints' paths are few)."""
        url = self._urls.get(path)
        if url is None:
            url = httpx2.URL(self._base + path)
            if len(self._urls) < _URL_CACHE_SIZE:
                self._urls[path] = url
        return url

    def _client_headers(self, http: httpx2.AsyncClient) -> httpx2.Headers:
        """The HTTP client's own headers with ours over them, merged once while they stay.

        What ``build_request`` would merge on every call; remade whenever the client's
        headers change (a caller may set them on a client it shares with us).
        """
        current = http.headers
        raw = current.raw
        cached = self._merged.value
        if cached is None or cached[0] is not current or cached[1] != raw:
            merged = httpx2.Headers(current)
            merged.update(self._api_headers.value)
            cached = self._merged.value = (current, raw, merged)
        return cached[2]

    def _build(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Mapping[str, Any] | None,
        options: Options,
        timeout: httpx2.Timeout,
    ) -> httpx2.Request:
        if options.query:
            params = {**(params or {}), **options.query}
        if options.body is not None and json is not None:
            json = {**json, **options.body}
        http = self.pool.http
        url = self._url(path)
        if type(http).build_request is not _BUILD_REQUEST:
            # A client class that builds requests its own way is asked to.
            headers = {**self._api_headers.value, **(options.headers or {})}
            chosen = options.timeout or timeout
            return http.build_request(
                method, url, params=params, json=json, headers=headers, timeout=chosen
            )
        # What ``AsyncClient.build_request`` does, with the parts that are the same on
        # every call (the URL, the merged headers, the timeout) made once.
        merged = self._client_headers(http)
        if options.headers:
            merged = merged.copy()
            merged.update(options.headers)
        if http.params:
            params = http.params.merge(params)
        if options.timeout is not None:
            timeouts = options.timeout.as_dict()
        else:
            cached = self._timeouts
            if cached is None or cached[0] is not timeout:
                cached = self._timeouts = (timeout, timeout.as_dict())
            timeouts = dict(cached[1])
        return httpx2.Request(
            method,
            url,
            params=params,
            json=json,
            headers=merged,
            cookies=http.cookies,
            extensions={"timeout": timeouts},
        )

    def _authorize(self, request: httpx2.Request, options: Options) -> None:
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
        options: Mapping[str, Any],
    ) -> None:
        """Build the request once without sending it: what cannot be sent fails here."""
        self._build(
            method,
            path,
            params=None,
            json=json,
            options=parse_options(options, body=json is not None),
            timeout=self.timeout,
        )

    def request_line(self, request: httpx2.Request) -> str:
        return f"{request.method} {self._target(request.url)}"

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        charged: bool = False,
        options: Options = NO_OPTIONS,
        stream: bool = False,
        record: CallRecord = NO_RECORD,
    ) -> tuple[httpx2.Response, bytes | None, int]:
        """Build, send, classify, and ask the retry policy, until an answer or a final error.

        Returns the response with its body, or, with ``stream``, the open response (its
        body unread) and ``None``; and the number of attempts it took. An error raised
        carries that number in ``attempts``.
        """
        timeout = self.download_timeout if stream else self.timeout
        attempt = 0
        while True:
            attempt += 1
            self.check_open()
            request = self._build(
                method,
                path,
                params=params,
                json=json,
                options=options,
                timeout=timeout,
            )
            if self.pool.limiter is not None:
                await self.pool.limiter.acquire()
            started = time.perf_counter()
            try:
                outcome = await self._attempt(request, options, charged=charged, stream=stream)
            except VoipanoError as error:
                error.attempts = attempt
                raise
            if logger.isEnabledFor(logging.INFO):
                result = (
                    f"-> {outcome[0].status_code}"
                    if not isinstance(outcome, Failure)
                    else f"-> {outcome.status}"
                    if outcome.status is not None
                    else f"failed: {outcome.reason}"
                )
                elapsed = time.perf_counter() - started
                line = self.request_line(request)
                logger.info("%s %s (%.3fs, attempt %d)", line, result, elapsed, attempt)
            if not isinstance(outcome, Failure):
                return outcome[0], outcome[1], attempt
            wait = self.retry.decide(attempt, charged=charged, failure=outcome)
            if logger.isEnabledFor(logging.DEBUG):
                self._log_decision(request, outcome, wait, attempt)
            if wait is None:
                outcome.error.attempts = attempt
                raise outcome.error
            record.retry(reason=outcome.reason, wait=wait, attempt=attempt)
            await anyio.sleep(wait)

    def _log_decision(
        self, request: httpx2.Request, failure: Failure, wait: float | None, attempt: int
    ) -> None:
        line = self.request_line(request)
        if wait is not None:
            logger.debug(
                "retrying %s after %s in %.2fs (attempt %d of %d)",
                *(line, failure.reason, wait, attempt + 1, self.retry.max_retries + 1),
            )
        elif failure.retry_after is not None and failure.retry_after > self.retry.max_retry_after:
            logger.debug(
                "not retrying %s: server asked to wait %.1fs (over the %.0fs cap)",
                *(line, failure.retry_after, self.retry.max_retry_after),
            )

    async def _attempt(
        self, request: httpx2.Request, options: Options, *, charged: bool, stream: bool
    ) -> tuple[httpx2.Response, bytes | None] | Failure:
        """One attempt: the answer (body read unless streaming), or why it failed.

        The whole attempt, up to the last byte of an API answer (up to the headers of a
        download), must finish within ``deadline``.
        """
        responses: list[httpx2.Response] = []
        with anyio.move_on_after(self.deadline):
            try:
                response = await self._send_following_redirects(request, options, responses)
                if response.is_success:
                    if stream:
                        return response, None
                    content = await read_body(response, _config.MAX_BODY_BYTES, truncate=False)
                    return response, content
                content = await read_body(response, _config.MAX_ERROR_BODY_BYTES, truncate=True)
                return status_failure(response, content, charged=charged, scrub=self)
            except httpx2.TransportError as exc:
                return transport_failure(request, exc, charged=charged, scrub=self)
            except BodyError as exc:
                raise UnexpectedResponseError(
                    f"the answer to {self.request_line(request)} could not be decoded",
                    status_code=responses[-1].status_code,
                    problems=[str(exc)],
                    may_have_been_placed=charged,
                ) from None
            except RuntimeError as exc:
                # httpx2 raises RuntimeError when a caller's own http_client was closed.
                raise VoipanoError(f"the HTTP client is closed ({self.redact(str(exc))})") from exc
        # The deadline passed: whatever was open is closed, and the request may have been
        # acted on (it was sent, or may have been).
        for response in responses:
            await close_response(response)
        return Failure(
            APITimeoutError(
                f"deadline exceeded on {self.request_line(request)}: no complete answer within "
                f"{self.deadline or 0:g}s (the client's deadline=)",
                may_have_been_placed=charged,
            ),
            reason="deadline exceeded",
            maybe_sent=True,
            retryable=True,
        )

    async def _send_following_redirects(
        self, request: httpx2.Request, options: Options, responses: list[httpx2.Response]
    ) -> httpx2.Response:
        """Send, following GET redirects ourselves so the token never leaves the API host."""
        http = self.pool.http
        for _ in range(_config.MAX_REDIRECTS + 1):
            response = await http.send(request, stream=True, follow_redirects=False)
            responses.append(response)
            if not (response.is_redirect and request.method == "GET"):
                return response
            location = response.headers.get("location")
            if not location:
                return response
            await close_response(response)
            previous = request
            target = redirect_target(previous, response, location, scrub=self)
            request = http.build_request("GET", target)
            request.extensions["timeout"] = previous.extensions["timeout"]
            self._authorize(request, options)
        await close_response(response)
        raise APIConnectionError(
            f"too many redirects (more than {_config.MAX_REDIRECTS}) "
            f"for {self.request_line(request)}"
        )

    @property
    def scrub_text(self) -> str | None:
        return self._scrub.value

    def redact(self, text: str) -> str:
        return text.replace(self._scrub.value, "***")
