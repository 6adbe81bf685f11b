"""``AsyncVoipano``: one coroutine method per endpoint of the Voipano webservice.

The endpoints live in two mixins: ``_calls.ChargedCalls`` (the charged calls) and
``_reads.Reads`` (everything free); this module builds the client and manages its life.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import ssl
from collections.abc import Mapping
from typing import Any, Self, Unpack

import attrs
import httpx2

from . import _config, _logs
from ._calls import ChargedCalls
from ._models import RawResult
from ._pool import Pool
from ._ratelimit import RateLimiter
from ._reads import Reads
from ._retry import RetryPolicy
from ._settings import PoolOptions, Settings, merge_retry
from ._spend import SpendGuard
from ._telemetry import Telemetry
from ._transport import Transport
from ._types import NOT_GIVEN, NotGiven, ReadOptions, Secret, is_loopback

logger = logging.getLogger("voipano_async")
_logs.setup_from_env()

__all__ = ["AsyncVoipano", "ClientSettings"]


_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def _checked_request(method: str, path: str) -> tuple[str, str]:
    """``request``'s method and path, refused before anything is sent when they could send
    the request (and the token) anywhere but an API path on the configured host."""
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(sorted(_METHODS))}, not {method!r}")
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise ValueError(
            f"path must be a path below the base URL, starting with one '/', such as "
            f"'/balance', not {path!r}"
        )
    if any(c in path for c in "?#") or any(c.isspace() or ord(c) < 32 for c in path):
        raise ValueError(
            f"path {path!r} may not hold a query, a fragment or white space: pass params="
        )
    if any(segment in {".", ".."} for segment in path.split("/")):
        raise ValueError(f"path {path!r} may not hold '.' or '..' segments")
    return method.upper(), path


class ClientSettings:
    """The settings both clients show (``AsyncVoipano`` and the blocking ``Voipano``).

    Read from the ``AsyncVoipano`` that makes the calls: the client itself, or the one a
    blocking client runs (``_calls_through``).
    """

    def _calls_through(self) -> AsyncVoipano:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return str(self._calls_through()._transport.settings.base_url)

    @property
    def max_retries(self) -> int:
        """Extra attempts allowed for a failed request."""
        return self._calls_through()._transport.settings.retry.max_retries

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy: ``client.with_options(retry=attrs.evolve(client.retry, ...))``."""
        return self._calls_through()._transport.settings.retry

    @property
    def timeout(self) -> httpx2.Timeout:
        """The HTTP timeout for API calls."""
        return self._calls_through()._transport.settings.timeout

    @property
    def strict_responses(self) -> bool:
        """Whether an answer that drifted from the published shape is refused."""
        return self._calls_through()._transport.settings.strict_responses

    @property
    def spent(self) -> int:
        """Credit this account spent on charged calls so far, through this client and
        its copies with the same token (a copy with another token counts its own).

        Settled from each answer's ``charged``; a call that may have been placed without
        an answer (a timeout, a dropped connection, a 5xx) is counted at its price.
        """
        return self._calls_through()._transport.guard.spent

    def __repr__(self) -> str:
        name = type(self).__name__
        try:
            base_url, max_retries = self.base_url, self.max_retries
        except AttributeError:  # the constructor raised
            return f"<{name} (not initialised)>"
        return f"{name}(base_url={base_url!r}, max_retries={max_retries})"


class AsyncVoipano(ClientSettings, ChargedCalls, Reads):
    """The async client for the Voipano webservice.

    Args:
        token: The API token; defaults to the ``VOIPANO_TOKEN`` environment variable.
        base_url: The API base; defaults to ``VOIPANO_BASE_URL``, then
            ``https://voipano.com/api/v1/webservice``. Must be https, except on loopback.
        timeout: HTTP timeout for API calls, seconds or an ``httpx2.Timeout``
            (default: 5 s to connect, 30 s to read).
        download_timeout: HTTP timeout for recordings (default: 120 s between chunks).
        max_retries: Extra attempts for a failed request (default 2; 0 disables). Charged
            calls are only re-sent when the server provably did not act on them. A
            shorthand for ``retry=RetryPolicy(max_retries=...)``.
        retry: The whole [`RetryPolicy`][voipano_async.RetryPolicy]: retries, waits, the
            longest ``Retry-After`` honoured. Default: ``RetryPolicy()``.
        deadline: The most one attempt of an API call may take, in seconds, from sending
            to the last byte of the answer (for a download, to its headers); past it the
            attempt fails with ``APITimeoutError``. Default 60; ``None`` for no deadline.
            For one call, use ``client.with_options(deadline=...)``.
        strict_responses: Refuse any answer that drifted from the published shape
            (``"160"`` for 160, ``1`` for true, ``[]`` for an empty object) with
            ``UnexpectedResponseError``, instead of reading it without loss and noting
            it in ``meta.drift``. Default ``False``; see Tolerant reading.
        max_concurrency: At most this many requests in flight across every task sharing
            the client (default: no cap beyond httpx's pool).
        rate_limit: At most this many requests per second, on average, across every task
            and every ``with_options`` copy; bursts of up to the rate are allowed, and each
            attempt of a retried request counts. Default: no limit.
        proxy: A proxy URL. ``HTTPS_PROXY``/``NO_PROXY`` are honoured without it.
        http_client: Your own ``httpx2.AsyncClient``; used as given and never closed by us.
            Anything else (a legacy ``httpx.AsyncClient``, a blocking ``httpx2.Client``)
            is refused with a ``TypeError``.
        spend_limit: The most this client (and its ``with_options`` copies) may spend on
            charged calls, in credit units, per account: a copy with another ``token``
            has a limit of its own. A call whose price would pass it raises
            ``SpendLimitExceededError`` and is not sent. Default: no limit.
        min_credit: Refuse charged calls once the account's last reported
            ``remaining_credit`` is below this. Default: no floor.
        tracer_provider: The OpenTelemetry ``TracerProvider`` for the client's spans
            (``None``: the global one). Needs the ``otel`` extra; see Observability.
        meter_provider: The OpenTelemetry ``MeterProvider`` for the client's metrics
            (``None``: the global one).
        allow_http: Allow a plain ``http://`` ``base_url`` on a host other than this
            machine (a sandbox in its own container, say). The token and every answer
            then cross the network unencrypted: for test networks only, never the
            default. Loopback hosts need no opt-in.
        default_headers: Headers sent with every request (a tenant's id for your own
            gateway, say), under any ``extra_headers=`` of a call; not ``Authorization``.
        verify: How to verify the server's TLS certificate: ``True`` (the default) trusts
            the operating system's CA certificates (``SSL_CERT_FILE``/``SSL_CERT_DIR``
            first); an ``ssl.SSLContext`` such as
            ``ssl.create_default_context(cafile="corp-ca.pem")`` trusts what it holds.

    Raises:
        VoipanoError: No token was given or found, or ``base_url`` is not acceptable.
        TypeError: An argument has the wrong type (a legacy ``httpx`` object, say).
        ValueError: An argument is out of range.

    Examples:
        >>> async with AsyncVoipano() as client:
        ...     otp = await client.call_otp("09123456789", purpose="login")
        ...     print(otp.request_id, otp.billing.remaining_credit)
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx2.Timeout = _config.DEFAULT_TIMEOUT,
        download_timeout: float | httpx2.Timeout = _config.DEFAULT_DOWNLOAD_TIMEOUT,
        max_retries: int = _config.DEFAULT_MAX_RETRIES,
        retry: RetryPolicy | None = None,
        deadline: float | None = _config.DEFAULT_DEADLINE,
        strict_responses: bool = False,
        max_concurrency: int | None = None,
        rate_limit: float | None = None,
        proxy: str | httpx2.URL | httpx2.Proxy | None = None,
        http_client: httpx2.AsyncClient | None = None,
        spend_limit: int | None = None,
        min_credit: int | None = None,
        verify: ssl.SSLContext | bool = True,
        allow_http: bool = False,
        default_headers: Mapping[str, str] | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        # The environment is read, then every argument is checked (by Settings and
        # PoolOptions) before anything is allocated: a constructor that raises leaves
        # nothing open behind it.
        settings = Settings(
            token=token if token is not None else os.environ.get(_config.TOKEN_ENV, ""),
            base_url=base_url or os.environ.get(_config.BASE_URL_ENV) or _config.DEFAULT_BASE_URL,
            timeout=timeout,
            download_timeout=download_timeout,
            # Given with retry=, the default max_retries is taken as "not given".
            retry=merge_retry(
                retry,
                None
                if retry is not None and max_retries == _config.DEFAULT_MAX_RETRIES
                else max_retries,
                base=RetryPolicy(),
            ),
            deadline=deadline,
            strict_responses=strict_responses,
            allow_http=allow_http,
            default_headers=default_headers,
        )
        if settings.base_url.scheme == "http" and not is_loopback(settings.base_url.host):
            logger.warning(
                "plain http to %s (allow_http=True): the token is sent unencrypted",
                settings.base_url.host,
            )
        shared = PoolOptions(
            max_concurrency=max_concurrency,
            spend_limit=spend_limit,
            min_credit=min_credit,
            proxy=proxy,
            verify=verify,
            http_client=http_client,
        )
        limiter = None if rate_limit is None else RateLimiter(rate_limit)
        http, owns_http = shared.open_http_client(settings.timeout)
        reopen = (lambda: shared.open_http_client(settings.timeout)[0]) if owns_http else None
        url = settings.base_url
        # Every account's token the pool's clients use (copies may add theirs): scrubbed
        # from whatever telemetry records.
        secrets = [settings.token.value]
        self._secrets = Secret(secrets)
        pool = Pool(
            http,
            owns_http=owns_http,
            max_concurrency=shared.max_concurrency,
            guard=SpendGuard(limit=shared.spend_limit, min_credit=shared.min_credit),
            limiter=limiter,
            reopen=reopen,
            telemetry=Telemetry(
                tracer_provider,
                meter_provider,
                server_address=url.host,
                server_port=url.port,
                scrub=lambda text: functools.reduce(
                    lambda done, secret: done.replace(secret, "***"), secrets, text
                ),
            ),
        )
        self._transport = Transport(settings, pool)
        self._owns_pool = True

    def _calls_through(self) -> AsyncVoipano:
        return self

    def _copy(self, settings: Settings) -> Self:
        """The one other way a client is made: a copy with ``settings``, sharing the pool.

        Closing the copy only stops it; the pool is closed with the client that made it.
        """
        clone = copy.copy(self)
        if settings.token.value not in self._secrets.value:
            self._secrets.value.append(settings.token.value)
        clone._transport = Transport(settings, self._transport.pool)
        clone._owns_pool = False
        return clone

    @property
    def is_closed(self) -> bool:
        """Whether this client (or the client whose pool it shares) has been closed."""
        return self._transport.closed

    def with_options(
        self,
        *,
        timeout: float | httpx2.Timeout | NotGiven = NOT_GIVEN,
        download_timeout: float | httpx2.Timeout | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        retry: RetryPolicy | NotGiven = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
        strict_responses: bool | NotGiven = NOT_GIVEN,
        token: str | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
    ) -> AsyncVoipano:
        """A client with other settings that shares this one's connection pool.

        The new client is closed when this one is; closing the new one only stops it.

        Args:
            token: Act for another Voipano account: the copy sends this token, and only
                it, sharing the pool, the rate limit and the telemetry. Its ``spent``,
                ``spend_limit`` and ``min_credit`` count that account's calls alone.
            default_headers: Headers for every request of the copy, replacing the
                client's ``default_headers`` (a tenant's id, say); not ``Authorization``.

        Examples:
            >>> patient = client.with_options(timeout=60, max_retries=5)
            >>> exact = client.with_options(strict_responses=True)
            >>> tenant = client.with_options(token=account.token,
            ...                              default_headers={"X-Tenant": account.id})
        """
        settings = self._transport.settings
        given = {
            "token": token,
            "default_headers": default_headers,
            "timeout": timeout,
            "download_timeout": download_timeout,
            "deadline": deadline,
            "strict_responses": strict_responses,
        }
        changes: dict[str, Any] = {k: v for k, v in given.items() if v is not NOT_GIVEN}
        if retry is not NOT_GIVEN or max_retries is not NOT_GIVEN:
            changes["retry"] = merge_retry(
                None if retry is NOT_GIVEN else retry,
                None if max_retries is NOT_GIVEN else max_retries,
                base=settings.retry,
            )
        return self._copy(attrs.evolve(settings, **changes))

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        charged: bool | None = None,
        **options: Unpack[ReadOptions],
    ) -> RawResult:
        """Call an endpoint the SDK has no method for yet, as its methods call theirs.

        The same token (to the API host only), retries, deadline, errors, tolerant reading
        of ``billing``, spend guard, logging and telemetry as any method; the answer's
        ``data`` comes back as the server sent it. Declare what the call costs: a charged
        call (the default for every method but ``GET``) is never sent again once it may
        have reached the server, its errors say ``may_have_been_placed``, and it counts
        toward ``spent`` and ``spend_limit``.

        Args:
            method: ``"GET"``, ``"POST"``, ``"PUT"``, ``"PATCH"`` or ``"DELETE"``.
            path: The path below the base URL, e.g. ``"/balance"``; ids in it quoted by
                you. Not a URL: the request goes to the configured API host only.
            params: The query parameters.
            json: The JSON object to send as the body.
            charged: Whether the call may cost money or act (ring a phone). Default:
                ``False`` for ``GET``, ``True`` for any other method; pass
                ``charged=False`` for a free ``POST`` to have it retried as reads are.
            **options: ``request_timeout``, ``extra_headers``, ``extra_query``.

        Returns:
            The answer's ``data`` in [`RawResult.data`][voipano_async.RawResult], with
            its ``billing``, its other top-level keys in ``extra``, and ``meta``.

        Raises:
            ValueError: Before anything is sent, for a method or path that cannot be
                sent (a full URL, a query string in the path, ``..``).
            APIError: The server refused (``ok: false``, or an HTTP error).
            UnexpectedResponseError: The answer is not the API's JSON envelope.
            APIConnectionError: The network failed; for a charged call, check
                ``may_have_been_placed``.

        Examples:
            >>> balance = await client.request("GET", "/balance")
            >>> balance.data
            {'credit': 9840}
            >>> status = await client.request("POST", "/call-status",
            ...                               json={"request_id": otp.request_id},
            ...                               charged=False)
        """
        method, path = _checked_request(method, path)
        if charged is None:
            charged = method != "GET"
        transport = self._transport
        call = transport.prepare(
            method,
            path,
            params=params,
            json=json,
            charged=charged,
            options=options,
            operation="request",
        )
        if not charged:
            return await transport.call(call, RawResult)
        return await transport.charged_call(call, path, RawResult)

    async def aclose(self) -> None:
        """Close the client and the connection pool it opened; closing twice is harmless."""
        self._transport.close()
        if self._owns_pool:
            await self._transport.pool.aclose()

    async def __aenter__(self) -> AsyncVoipano:
        self._transport.check_open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
