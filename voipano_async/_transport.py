"""The one request path below every endpoint method.

Authentication, retries, timeouts, redirects, the concurrency cap, logging and the mapping
of failures to :mod:`voipano_async` errors all live here, once.

The rule that matters most: a charged call (``call_otp``, ``click_to_call``,
``secure_call``) is re-sent only when the server provably did not act on it, which is when
no connection was ever made (connect error, connect or pool timeout) or when the server
answered 429. After a read timeout, a dropped connection or any 5xx the caller gets the
error, marked ``may_have_been_placed``.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import ssl
import sys
import time
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any, Generic, TypeVar

import anyio
import attrs
import httpx2

from . import _config
from ._envelope import api_error, decode_error_body, decode_result, parse_retry_after
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    UnexpectedResponseError,
    VoipanoError,
)
from ._phone import mask_phone_numbers
from ._spend import SpendGuard
from ._version import __version__

__all__ = [
    "CERTIFICATE_HELP",
    "Pool",
    "RequestOptions",
    "Secret",
    "StreamHandle",
    "Transport",
    "backoff_delay",
    "certificate_failure",
    "describe_type",
    "is_legacy_httpx",
    "is_loopback",
    "iter_chunks",
    "make_options",
    "to_timeout",
]

T = TypeVar("T")
S = TypeVar("S")

logger = logging.getLogger("voipano_async")

USER_AGENT = f"voipano-async/{__version__} python/{'.'.join(map(str, sys.version_info[:3]))}"

TimeoutTypes = float | httpx2.Timeout | None


def describe_type(value: object) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def is_legacy_httpx(value: object) -> bool:
    """Whether ``value`` comes from the legacy ``httpx``/``httpcore`` 0.x/1.x packages."""
    return type(value).__module__.split(".")[0] in {"httpx", "httpcore"}


def to_timeout(value: float | httpx2.Timeout, name: str = "timeout") -> httpx2.Timeout:
    """Seconds or an ``httpx2.Timeout``; anything else is refused with a clear ``TypeError``."""
    if isinstance(value, httpx2.Timeout):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError(f"{name} must be more than 0 seconds, got {value!r}")
        return httpx2.Timeout(value)
    hint = (
        " (a legacy httpx object: voipano-async runs on httpx2; pass httpx2.Timeout(...))"
        if is_legacy_httpx(value)
        else ""
    )
    raise TypeError(
        f"{name} must be a number of seconds or an httpx2.Timeout, "
        f"not {describe_type(value)}{hint}"
    )


@attrs.frozen
class RequestOptions:
    """What a caller may add to one request: ``request_timeout=``, ``extra_*=``."""

    timeout: httpx2.Timeout | None = None
    headers: Mapping[str, str] | None = None
    query: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None


NO_OPTIONS = RequestOptions()


def make_options(
    request_timeout: TimeoutTypes,
    extra_headers: Mapping[str, str] | None,
    extra_query: Mapping[str, Any] | None,
    extra_body: Mapping[str, Any] | None = None,
) -> RequestOptions:
    """Validate per-call options; ``Authorization`` cannot be overridden."""
    if request_timeout is None and not extra_headers and not extra_query and not extra_body:
        return NO_OPTIONS
    if extra_headers and any(name.lower() == "authorization" for name in extra_headers):
        raise ValueError(
            "extra_headers may not set Authorization: the client sends the token itself, "
            "and only to the configured API host"
        )
    return RequestOptions(
        timeout=None
        if request_timeout is None
        else to_timeout(request_timeout, "request_timeout"),
        headers=extra_headers or None,
        query=extra_query or None,
        body=extra_body or None,
    )


class Secret(Generic[S]):
    """Holds the token (or headers carrying it); its repr never shows it."""

    __slots__ = ("value",)

    def __init__(self, value: S) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret('***')"


def is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Pool:
    """The HTTP connection pool and what every client sharing it shares.

    ``AsyncVoipano.with_options`` makes clients that share one pool (and one concurrency
    cap); the client that created the pool is the one that closes it.
    """

    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        owns_http: bool,
        max_concurrency: int | None,
        guard: SpendGuard,
    ) -> None:
        self.http = http
        self.guard = guard
        self.owns_http = owns_http
        self.closed = False
        self.max_concurrency = max_concurrency
        self._limiter: anyio.CapacityLimiter | None = None
        self._streaming_tasks: dict[int, int] = {}

    async def acquire(self) -> object | None:
        """Take a slot for one request or stream; ``None`` when none is needed.

        A task that holds an open stream already has a slot: what it sends while the
        stream is open rides on that slot. Waiting for a second one could deadlock once
        every slot is held by such a task.
        """
        if self.max_concurrency is None:
            return None
        if anyio.get_current_task().id in self._streaming_tasks:
            return None
        if self._limiter is None:
            # Created lazily: anyio needs a running event loop to make one.
            self._limiter = anyio.CapacityLimiter(self.max_concurrency)
        slot = object()
        await self._limiter.acquire_on_behalf_of(slot)
        return slot

    def release(self, slot: object | None) -> None:
        if slot is not None and self._limiter is not None:
            self._limiter.release_on_behalf_of(slot)

    def hold_for_stream(self, slot: object | None) -> int | None:
        """Mark the current task as holding ``slot`` while its stream is open."""
        if slot is None:
            return None
        task = anyio.get_current_task().id
        self._streaming_tasks[task] = self._streaming_tasks.get(task, 0) + 1
        return task

    def end_stream(self, task: int | None, slot: object | None) -> None:
        if task is not None:
            left = self._streaming_tasks.pop(task, 1) - 1
            if left:
                self._streaming_tasks[task] = left
        self.release(slot)

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.owns_http:
            with anyio.CancelScope(shield=True):
                await self.http.aclose()


_NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout, httpx2.ProxyError)
# Failures that would repeat identically on a second attempt.
_PERMANENT = (httpx2.UnsupportedProtocol, httpx2.LocalProtocolError)


CERTIFICATE_HELP = (
    "the server's TLS certificate could not be verified ({detail}). voipano-async trusts "
    "the operating system's CA certificates: install them (Debian/Ubuntu: apt-get install "
    "ca-certificates), or, behind a TLS-inspecting proxy, set SSL_CERT_FILE (or "
    "SSL_CERT_DIR) to a bundle holding its CA, or pass "
    "verify=ssl.create_default_context(cafile=...) (the CLI: --ca-bundle)"
)


def certificate_failure(exc: BaseException) -> str | None:
    """The reason, when ``exc`` (or what caused it) is a failed certificate verification."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current.verify_message or str(current)
        if "CERTIFICATE_VERIFY_FAILED" in str(current):
            text = str(current)
            return text.split("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0].strip()
        current = current.__cause__ or current.__context__
    return None


def _describe_failure(exc: httpx2.TransportError) -> tuple[type[APIConnectionError], bool, str]:
    """(error class, whether the request may have reached the server, short reason)."""
    if isinstance(exc, httpx2.ConnectError) and certificate_failure(exc) is not None:
        return APIConnectionError, False, "TLS certificate not trusted"
    if isinstance(exc, httpx2.LocalProtocolError):
        return APIConnectionError, False, "invalid request"
    if isinstance(exc, httpx2.ConnectTimeout):
        return APITimeoutError, False, "connect timeout"
    if isinstance(exc, httpx2.PoolTimeout):
        return APITimeoutError, False, "pool timeout"
    if isinstance(exc, _NOT_SENT):
        return APIConnectionError, False, "connection failed"
    if isinstance(exc, httpx2.UnsupportedProtocol):
        return APIConnectionError, False, "unsupported protocol"
    if isinstance(exc, httpx2.ReadTimeout):
        return APITimeoutError, True, "read timeout"
    if isinstance(exc, httpx2.WriteTimeout):
        return APITimeoutError, True, "write timeout"
    return APIConnectionError, True, "connection dropped"


def backoff_delay(attempt: int) -> float:
    """The wait before retry number ``attempt``: 0.5 s doubling, capped, minus up to 25%."""
    delay = min(_config.BACKOFF_CAP, _config.BACKOFF_INITIAL * 2.0 ** min(attempt - 1, 32))
    return delay * (1 - 0.25 * random.random())


async def _close(response: httpx2.Response) -> None:
    with anyio.CancelScope(shield=True):
        await response.aclose()


def iter_chunks(
    response: httpx2.Response, chunk_size: int | None = None
) -> AsyncGenerator[bytes, None]:
    """The body's chunks, as a generator that ``aclosing`` can close when we stop early."""
    return response.aiter_bytes(chunk_size)


def with_body(response: httpx2.Response, content: bytes) -> httpx2.Response:
    """A copy of a (closed) response carrying the bounded body we read, for error objects."""
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in {"content-encoding", "content-length", "transfer-encoding"}
    ]
    return httpx2.Response(
        response.status_code,
        headers=headers,
        content=content,
        request=response.request,
        extensions=response.extensions,
    )


async def read_bounded(response: httpx2.Response, limit: int) -> bytes:
    """Read at most ``limit`` bytes of the body, then close the response."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with aclosing(iter_chunks(response)) as body:
            async for chunk in body:
                chunks.append(chunk)
                size += len(chunk)
                if size >= limit:
                    break
    except httpx2.HTTPError:
        pass  # an error body that broke off is still worth what arrived
    finally:
        await _close(response)
    return b"".join(chunks)[:limit]


class Transport:
    """Sends requests for one client configuration over a shared :class:`Pool`."""

    def __init__(
        self,
        *,
        token: Secret[str],
        base_url: httpx2.URL,
        pool: Pool,
        timeout: httpx2.Timeout,
        download_timeout: httpx2.Timeout,
        max_retries: int,
    ) -> None:
        self.token = token
        self.base_url = base_url
        self.pool = pool
        self.timeout = timeout
        self.download_timeout = download_timeout
        self.max_retries = max_retries
        self.closed = False
        self._base = str(base_url).rstrip("/")
        self._origin = (base_url.scheme, base_url.host, base_url.port)
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
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
            response = await self._send(
                method, path, params=params, json=json, charged=charged, options=options
            )
        finally:
            self.pool.release(slot)
        return decode_result(response, cl, charged=charged, redact=self._scrub_text)

    async def open_stream(
        self, path: str, *, params: Mapping[str, Any] | None, options: RequestOptions
    ) -> StreamHandle:
        """Open a GET whose body the caller streams; close it with ``StreamHandle.aclose``."""
        slot = await self.pool.acquire()
        response: httpx2.Response | None = None
        try:
            response = await self._send("GET", path, params=params, options=options, stream=True)
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
        content = await read_bounded(response, _config.MAX_ERROR_BODY_BYTES)
        body = decode_error_body(content)
        if isinstance(body, Mapping) and body.get("ok") is False:
            raise api_error(with_body(response, content), body, redact=self._scrub_text)
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
    ) -> httpx2.Response:
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
            try:
                response = await self._send_following_redirects(request, options)
                if response.is_success and not stream:
                    try:
                        # Reading to the end also closes the response.
                        await response.aread()
                    except httpx2.DecodingError as exc:
                        await _close(response)
                        raise UnexpectedResponseError(
                            f"the answer to {method} {self._target(request.url)} "
                            "could not be decoded",
                            status_code=response.status_code,
                            problems=[str(exc)],
                            may_have_been_placed=charged,
                        ) from exc
                    except BaseException:
                        await _close(response)
                        raise
            except httpx2.TransportError as exc:
                target = self._target(request.url)
                error_cls, maybe_sent, reason = _describe_failure(exc)
                untrusted = certificate_failure(exc)
                retry = (
                    attempt <= self.max_retries
                    and not (maybe_sent and charged)
                    and not isinstance(exc, _PERMANENT)
                    and untrusted is None
                )
                logger.info(
                    "%s %s failed: %s (%.3fs, attempt %d)",
                    method,
                    target,
                    reason,
                    time.perf_counter() - started,
                    attempt,
                )
                if retry:
                    await self._backoff(method, target, attempt, reason, None)
                    continue
                placed = charged and maybe_sent
                detail = self._redact(str(exc) or type(exc).__name__)
                if untrusted is not None:
                    detail = CERTIFICATE_HELP.format(detail=self._redact(untrusted))
                raise error_cls(
                    f"{reason} on {method} {target}: {detail}", may_have_been_placed=placed
                ) from exc
            except RuntimeError as exc:
                # httpx raises RuntimeError when a caller's own http_client was closed.
                raise VoipanoError(
                    f"the HTTP client is closed ({self._redact(str(exc))})"
                ) from exc

            status = response.status_code
            if logger.isEnabledFor(logging.INFO):
                elapsed = time.perf_counter() - started
                target = self._target(request.url)
                logger.info(
                    "%s %s -> %d (%.3fs, attempt %d)", method, target, status, elapsed, attempt
                )
            if response.is_success:
                return response
            target = self._target(request.url)

            content = await read_bounded(response, _config.MAX_ERROR_BODY_BYTES)
            # The server answered: a charged call is unsafe to repeat unless the answer
            # says the server refused it (4xx), and only 429 is retried.
            placed = charged and status >= 500
            error = api_error(
                with_body(response, content),
                decode_error_body(content),
                may_have_been_placed=placed,
                redact=self._scrub_text,
            )
            retryable = status in _config.RETRYABLE_STATUS_CODES and (not charged or status == 429)
            if retryable and attempt <= self.max_retries:
                await self._backoff(method, target, attempt, f"HTTP {status}", error)
                continue
            raise error

    async def _send_following_redirects(
        self, request: httpx2.Request, options: RequestOptions
    ) -> httpx2.Response:
        """Send, following GET redirects ourselves so the token never leaves the API host."""
        http = self.pool.http
        for _ in range(_config.MAX_REDIRECTS + 1):
            response = await http.send(request, stream=True, follow_redirects=False)
            if not (response.is_redirect and request.method == "GET"):
                return response
            await _close(response)
            previous = request
            request = http.build_request("GET", previous.url.join(response.headers["location"]))
            request.extensions["timeout"] = previous.extensions["timeout"]
            self._authorize(request, options)
        await _close(response)
        raise APIConnectionError(
            f"too many redirects (more than {_config.MAX_REDIRECTS}) "
            f"for GET {self._target(request.url)}"
        )

    @property
    def _scrub_text(self) -> str | None:
        return self._scrub.value if self._scrub else None

    def _redact(self, text: str) -> str:
        return text.replace(self._scrub.value, "***") if self._scrub else text

    async def _backoff(
        self, method: str, target: str, attempt: int, reason: str, error: APIError | None
    ) -> None:
        delay = backoff_delay(attempt)
        retry_after = getattr(error, "retry_after", None)
        if error is not None and retry_after is None and error.response is not None:
            retry_after = parse_retry_after(error.response.headers.get("retry-after"))
        if retry_after is not None:
            if retry_after > _config.MAX_RETRY_AFTER:
                logger.debug(
                    "not retrying %s %s: server asked to wait %.1fs (over the %.0fs cap)",
                    method,
                    target,
                    retry_after,
                    _config.MAX_RETRY_AFTER,
                )
                assert error is not None
                raise error
            delay = retry_after
        logger.debug(
            "retrying %s %s after %s in %.2fs (attempt %d of %d)",
            method,
            target,
            reason,
            delay,
            attempt + 1,
            self.max_retries + 1,
        )
        await anyio.sleep(delay)


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
