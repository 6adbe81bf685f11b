"""``AsyncVoipano``: one coroutine method per endpoint of the Voipano webservice."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import attrs
import httpx2

from . import _config
from ._exceptions import VoipanoError
from ._models import (
    CallOtpResult,
    CallReport,
    CallReportsPage,
    CallResult,
    ServiceList,
    VoicemailInboxes,
)
from ._options import RequestOptions, make_options
from ._pager import CallReportPager
from ._phone import normalize_phone_number
from ._pool import Pool
from ._retry import RetryPolicy
from ._settings import Settings
from ._spend import SpendGuard
from ._streams import AudioStreamContext, StrPath
from ._transport import Transport
from ._types import (
    NOT_GIVEN,
    NotGiven,
    Secret,
    TimeoutTypes,
    describe_type,
    is_legacy_httpx,
    is_loopback,
    to_timeout,
)

__all__ = ["AsyncVoipano"]

Charged = TypeVar("Charged", CallOtpResult, CallResult)


def _segment(value: str | CallReport, name: str) -> str:
    """Percent-encode a path parameter so that no value can change the path."""
    if isinstance(value, CallReport):
        value = value.call_details_record_id
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    encoded = quote(value, safe="")
    # "." and ".." are dot-segments that URL normalisation would remove.
    return encoded.replace(".", "%2E") if encoded in {".", ".."} else encoded


def _check_base_url(base_url: str) -> httpx2.URL:
    try:
        url = httpx2.URL(base_url)
    except httpx2.InvalidURL as exc:
        raise VoipanoError(f"invalid base_url {base_url!r}: {exc}") from None
    if url.scheme == "https" and url.host:
        return url
    if url.scheme == "http" and is_loopback(url.host):
        return url
    raise VoipanoError(
        f"base_url must be an https URL (plain http only for loopback hosts), got {base_url!r}"
    )


def _check_http_client(value: object) -> None:
    if value is None or isinstance(value, httpx2.AsyncClient):
        return
    if is_legacy_httpx(value):
        hint = (
            "it is a legacy httpx client, and voipano-async runs on httpx2: build an "
            "httpx2.AsyncClient with the same settings (import httpx2; the API is the same)"
        )
    elif isinstance(value, httpx2.Client):
        hint = (
            "it is a blocking client: pass an httpx2.AsyncClient (the blocking Voipano "
            "client also takes one and runs it on its own event loop)"
        )
    else:
        hint = "pass an httpx2.AsyncClient, or nothing to let the client make its own"
    raise TypeError(
        f"http_client must be an httpx2.AsyncClient, not {describe_type(value)}: {hint}"
    )


def _check_proxy(value: object) -> None:
    if value is None or isinstance(value, str | httpx2.URL | httpx2.Proxy):
        return
    hint = (
        " (a legacy httpx object: pass the proxy URL as a string, or an httpx2.Proxy)"
        if is_legacy_httpx(value)
        else ""
    )
    raise TypeError(
        f"proxy must be a URL string, an httpx2.URL or an httpx2.Proxy, "
        f"not {describe_type(value)}{hint}"
    )


def _check_verify(value: object) -> None:
    if isinstance(value, bool | ssl.SSLContext):
        return
    raise TypeError(
        "verify must be True, False or an ssl.SSLContext "
        f"(ssl.create_default_context(cafile=...) for a CA bundle), not {describe_type(value)}"
    )


class AsyncVoipano:
    """The async client for the Voipano webservice.

    Args:
        token: The API token; defaults to the ``VOIPANO_TOKEN`` environment variable.
        base_url: The API base; defaults to ``VOIPANO_BASE_URL``, then
            ``https://voipano.com/api/v1/webservice``. Must be https, except on loopback.
        timeout: HTTP timeout for API calls, seconds or an ``httpx2.Timeout``
            (default: 5 s to connect, 30 s to read).
        download_timeout: HTTP timeout for recordings (default: 120 s between chunks).
        max_retries: Extra attempts for a failed request (default 2; 0 disables). Charged
            calls are only re-sent when the server provably did not act on them.
        deadline: The most one attempt of an API call may take, in seconds, from sending
            to the last byte of the answer (for a download, to its headers); past it the
            attempt fails with ``APITimeoutError``. Default 60; ``None`` for no deadline.
            For one call, use ``client.with_options(deadline=...)``.
        max_concurrency: At most this many requests in flight across every task sharing
            the client (default: no cap beyond httpx's pool).
        proxy: A proxy URL. ``HTTPS_PROXY``/``NO_PROXY`` are honoured without it.
        http_client: Your own ``httpx2.AsyncClient``; used as given and never closed by us.
            Anything else (a legacy ``httpx.AsyncClient``, a blocking ``httpx2.Client``)
            is refused with a ``TypeError``.
        spend_limit: The most this client (and its ``with_options`` copies) may spend on
            charged calls, in credit units. A call whose price would pass it raises
            ``SpendLimitExceededError`` and is not sent. Default: no limit.
        min_credit: Refuse charged calls once the account's last reported
            ``remaining_credit`` is below this. Default: no floor.
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
        deadline: float | None = _config.DEFAULT_DEADLINE,
        max_concurrency: int | None = None,
        proxy: str | httpx2.URL | httpx2.Proxy | None = None,
        http_client: httpx2.AsyncClient | None = None,
        spend_limit: int | None = None,
        min_credit: int | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        # Every argument is checked before anything is allocated: a constructor that
        # raises leaves nothing open behind it.
        token = (token if token is not None else os.environ.get(_config.TOKEN_ENV, "")).strip()
        if not token:
            raise VoipanoError(
                f"no API token: pass token=... or set the {_config.TOKEN_ENV} environment variable"
            )
        url = _check_base_url(
            base_url or os.environ.get(_config.BASE_URL_ENV) or _config.DEFAULT_BASE_URL
        )
        api_timeout = to_timeout(timeout)
        stream_timeout = to_timeout(download_timeout, "download_timeout")
        _check_retries(max_retries)
        _check_deadline(deadline)
        if max_concurrency is not None and (
            isinstance(max_concurrency, bool)
            or not isinstance(max_concurrency, int)
            or max_concurrency < 1
        ):
            raise ValueError("max_concurrency must be at least 1")
        for name, value in (("spend_limit", spend_limit), ("min_credit", min_credit)):
            if value is not None and (isinstance(value, bool) or value < 0):
                raise ValueError(f"{name} must be a number of credit units, 0 or more")
        _check_http_client(http_client)
        _check_proxy(proxy)
        _check_verify(verify)
        if http_client is not None and (proxy is not None or verify is not True):
            raise ValueError(
                "pass proxy= and verify= to your own http_client, not to AsyncVoipano"
            )
        owns = http_client is None
        if http_client is None:
            http_client = httpx2.AsyncClient(
                proxy=proxy,
                verify=verify,
                timeout=api_timeout,
                follow_redirects=False,
                limits=httpx2.Limits(max_connections=100, max_keepalive_connections=20),
            )
        pool = Pool(
            http_client,
            owns_http=owns,
            max_concurrency=max_concurrency,
            guard=SpendGuard(limit=spend_limit, min_credit=min_credit),
        )
        self._transport = Transport(
            Settings(
                token=Secret(token),
                base_url=url,
                timeout=api_timeout,
                download_timeout=stream_timeout,
                retry=RetryPolicy.default(max_retries),
                deadline=deadline,
            ),
            pool,
        )
        self._owns_pool = True

    # -- configuration and lifecycle ----------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return str(self._transport.base_url)

    @property
    def max_retries(self) -> int:
        """Extra attempts allowed for a failed request."""
        return self._transport.retry.max_retries

    @property
    def timeout(self) -> httpx2.Timeout:
        """The HTTP timeout for API calls."""
        return self._transport.timeout

    @property
    def spent(self) -> int:
        """Credit spent on charged calls so far by this client and its copies.

        Settled from each answer's ``charged``; a call that may have been placed without
        an answer (a timeout, a dropped connection, a 5xx) is counted at its price.
        """
        return self._transport.pool.guard.spent

    @property
    def is_closed(self) -> bool:
        """Whether this client (or the client whose pool it shares) has been closed."""
        return self._transport.closed or self._transport.pool.closed

    def __repr__(self) -> str:
        if not hasattr(self, "_transport"):  # the constructor raised
            return "<AsyncVoipano (not initialised)>"
        return f"AsyncVoipano(base_url={self.base_url!r}, max_retries={self.max_retries})"

    def with_options(
        self,
        *,
        timeout: float | httpx2.Timeout | NotGiven = NOT_GIVEN,
        download_timeout: float | httpx2.Timeout | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> AsyncVoipano:
        """A client with other settings that shares this one's connection pool.

        The new client is closed when this one is; closing the new one only stops it.

        Examples:
            >>> patient = client.with_options(timeout=60, max_retries=5)
        """
        old = self._transport
        changes: dict[str, Any] = {}
        if not isinstance(max_retries, NotGiven):
            _check_retries(max_retries)
            changes["retry"] = attrs.evolve(old.retry, max_retries=max_retries)
        if not isinstance(deadline, NotGiven):
            _check_deadline(deadline)
            changes["deadline"] = deadline
        if not isinstance(timeout, NotGiven):
            changes["timeout"] = to_timeout(timeout)
        if not isinstance(download_timeout, NotGiven):
            changes["download_timeout"] = to_timeout(download_timeout, "download_timeout")
        clone = object.__new__(AsyncVoipano)
        clone._transport = Transport(attrs.evolve(old.settings, **changes), old.pool)
        clone._owns_pool = False
        return clone

    async def aclose(self) -> None:
        """Close the client and the connection pool it opened; closing twice is harmless."""
        self._transport.closed = True
        if self._owns_pool:
            await self._transport.pool.aclose()

    async def __aenter__(self) -> AsyncVoipano:
        self._transport.check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- charged calls --------------------------------------------------------------------

    async def call_otp(
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
        """Call a number and read out a verification code (charged: 160 by the price list).

        Args:
            phone_number: The number to call; normalised (``+98``, Persian digits, ...).
            purpose: What the code is for, e.g. ``"login"``.
            client_ref: Your own reference for this request, echoed in reports.

        Raises:
            InvalidPhoneNumberError: Before any request, for a number that is not valid.
            APIError: The server refused (``InsufficientCreditError`` when out of credit).
            APIConnectionError: The network failed; check ``may_have_been_placed``
                before trying again.

        Examples:
            >>> otp = await client.call_otp("09123456789", purpose="login")
        """
        body: dict[str, Any] = {"phone_number": normalize_phone_number(phone_number)}
        if purpose is not None:
            body["purpose"] = purpose
        if client_ref is not None:
            body["client_ref"] = client_ref
        options = make_options(request_timeout, extra_headers, extra_query, extra_body)
        return await self._charged("/call-otp", body, CallOtpResult, options)

    async def click_to_call(
        self,
        call_source: str,
        call_destination: str,
        *,
        timeout: int | None = None,  # noqa: ASYNC109 (the vendor's ring time)
        limit: int | None = None,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> CallResult:
        """Ring ``call_source``, then connect it to ``call_destination`` (charged: 80).

        Args:
            call_source: The number rung first.
            call_destination: The number it is connected to.
            timeout: The API's ``timeout`` field (ring time in seconds, most likely).
            limit: The API's ``limit`` field (maximum call length in seconds, most likely).
            request_timeout: The HTTP timeout for this request (not the API's ``timeout``).

        Raises:
            InvalidPhoneNumberError: Before any request, for a number that is not valid.
            APIError: The server refused the call.
            APIConnectionError: The network failed; check ``may_have_been_placed``.

        Examples:
            >>> call = await client.click_to_call("09123456789", "02191010001", timeout=30)
        """
        body = _call_body(call_source, call_destination, timeout, limit)
        options = make_options(request_timeout, extra_headers, extra_query, extra_body)
        return await self._charged("/click-to-call", body, CallResult, options)

    async def secure_call(
        self,
        call_source: str,
        call_destination: str,
        *,
        timeout: int | None = None,  # noqa: ASYNC109 (the vendor's ring time)
        limit: int | None = None,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> CallResult:
        """Connect two numbers without showing either one to the other (charged: 120).

        Arguments, errors and result as for
        [`click_to_call`][voipano_async.AsyncVoipano.click_to_call].

        Examples:
            >>> call = await client.secure_call("09123456789", "09129876543", limit=30)
        """
        body = _call_body(call_source, call_destination, timeout, limit)
        options = make_options(request_timeout, extra_headers, extra_query, extra_body)
        return await self._charged("/secure-call", body, CallResult, options)

    async def _charged(
        self, path: str, body: dict[str, Any], cl: type[Charged], options: RequestOptions
    ) -> Charged:
        # Whatever would fail to build (a body that is not JSON, say) fails here, before
        # any credit is reserved: a call that was never sent costs nothing.
        self._transport.check_request("POST", path, json=body, options=options)
        guard = self._transport.pool.guard
        price = guard.reserve(path)
        try:
            result = await self._transport.request(
                "POST", path, cl, json=body, charged=True, options=options
            )
        except VoipanoError as error:
            guard.settle(path, price, None, placed=error.may_have_been_placed)
            raise
        except BaseException:
            # Cancelled or failed in an unknown state: count it, to stay under the limit.
            guard.settle(path, price, None, placed=True)
            raise
        guard.settle(path, price, result.billing, placed=True)
        return result

    # -- reads ----------------------------------------------------------------------------

    async def call_reports_page(
        self,
        page: int = 1,
        *,
        per_page: int | None = None,
        has_recording: bool | None = None,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> CallReportsPage:
        """Fetch one page of call reports (pages count from 1).

        Args:
            page: The page number.
            per_page: The page size, sent as the API's ``limit``.
            has_recording: Only calls with (``True``) or without (``False``) a recording.
            extra_query: Filters the published page does not list yet (e.g. date ranges).

        Examples:
            >>> page = await client.call_reports_page(2, per_page=50)
            >>> page.pagination.last_page
        """
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ValueError("page must be a whole number; pages start at 1")
        params: dict[str, Any] = {"page": page}
        if per_page is not None:
            if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
                raise ValueError("per_page must be a whole number, at least 1")
            params["limit"] = per_page
        if has_recording is not None:
            params["has_recording"] = int(has_recording)
        options = make_options(request_timeout, extra_headers, extra_query)
        return await self._transport.request(
            "GET", "/call-reports", CallReportsPage, params=params, options=options
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
    ) -> CallReportPager:
        """Every call report, across all pages: ``async for report in client.call_reports()``.

        Args:
            per_page: The page size, sent as the API's ``limit``.
            has_recording: Only calls with (``True``) or without (``False``) a recording.
            concurrency: Pages fetched at once after the first (default 4; 1 is sequential).
            max_items: Stop after this many reports.

        Reports come in page order; one already seen in the same walk is skipped.
        ``.pages()`` walks the [`CallReportsPage`][voipano_async.CallReportsPage] objects instead.

        Examples:
            >>> async for report in client.call_reports(has_recording=True):
            ...     print(report.id, report.call_source)
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError("concurrency must be a whole number, at least 1")
        if per_page is not None and (
            isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1
        ):
            raise ValueError("per_page must be a whole number, at least 1")
        if max_items is not None and max_items < 0:
            raise ValueError("max_items must not be negative")
        options = make_options(request_timeout, extra_headers, extra_query)

        async def fetch(page: int) -> CallReportsPage:
            return await self.call_reports_page(
                page,
                per_page=per_page,
                has_recording=has_recording,
                request_timeout=options.timeout,
                extra_headers=options.headers,
                extra_query=options.query,
            )

        return CallReportPager(fetch, concurrency=concurrency, max_items=max_items)

    async def services(
        self,
        *,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> ServiceList:
        """List the account's service subscriptions.

        Examples:
            >>> for service in (await client.services()).items:
            ...     print(service.phone_number, service.remaining_days)
        """
        options = make_options(request_timeout, extra_headers, extra_query)
        return await self._transport.request("GET", "/services", ServiceList, options=options)

    async def voicemail_inboxes(
        self,
        *,
        context: str | None = None,
        limit: int | None = None,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> VoicemailInboxes:
        """List voicemail inboxes, optionally of one ``context``.

        Raises:
            PermissionDeniedError: ``context`` is not one of the token's allowed contexts.

        Examples:
            >>> inboxes = await client.voicemail_inboxes(context="voicemail-02191010001")
        """
        params: dict[str, Any] = {}
        if context is not None:
            params["context"] = context
        if limit is not None:
            params["limit"] = limit
        options = make_options(request_timeout, extra_headers, extra_query)
        return await self._transport.request(
            "GET", "/voicemail-inboxes", VoicemailInboxes, params=params, options=options
        )

    # -- recordings -------------------------------------------------------------------------

    def stream_call_recording(
        self,
        cdr_id: str | CallReport,
        *,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> AudioStreamContext:
        """Stream a call's recording: ``async with client.stream_call_recording(id) as audio:``.

        Args:
            cdr_id: The call's ``call_details_record_id``, or its
                [`CallReport`][voipano_async.CallReport].
                The recording is fetched from the configured API host by id; a report's
                ``recording_url`` is never followed with the token.

        Examples:
            >>> async with client.stream_call_recording(report) as audio:
            ...     async for chunk in audio.aiter_bytes():
            ...         sink.write(chunk)
        """
        segment = _segment(cdr_id, "cdr_id")
        cdr = cdr_id.call_details_record_id if isinstance(cdr_id, CallReport) else cdr_id
        return self._stream(
            f"/call-recordings/{segment}",
            {"call_details_record_id": cdr},
            make_options(request_timeout, extra_headers, extra_query),
            fallback_name=f"recording-{cdr}.wav",
        )

    def stream_voicemail_recording(
        self,
        unique_id: str,
        *,
        context: str,
        mailbox: str,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> AudioStreamContext:
        """Stream a voicemail message: ``async with client.stream_voicemail_recording(...)``.

        Args:
            unique_id: The message's id, e.g. ``"1739558127.155"``.
            context: The voicemail context, e.g. ``"voicemail-02191010001"``.
            mailbox: The mailbox, e.g. ``"1001"``.
        """
        segment = _segment(unique_id, "unique_id")
        return self._stream(
            f"/voicemail-recordings/{segment}",
            {"context": context, "mailbox": mailbox},
            make_options(request_timeout, extra_headers, extra_query),
            fallback_name=f"voicemail-{unique_id}.wav",
        )

    def _stream(
        self,
        path: str,
        params: dict[str, Any],
        options: RequestOptions,
        *,
        fallback_name: str,
    ) -> AudioStreamContext:
        transport = self._transport
        return AudioStreamContext(
            lambda: transport.open_stream(path, params=params, options=options),
            fallback_name=fallback_name,
        )

    async def download_call_recording(
        self,
        cdr_id: str | CallReport,
        dest: StrPath,
        *,
        request_timeout: TimeoutTypes = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> Path:
        """Save a call's recording to ``dest`` (a directory or a file path); return the path.

        The file appears only once complete: a failed download leaves nothing behind.

        Examples:
            >>> path = await client.download_call_recording(report, "recordings/")
        """
        stream = self.stream_call_recording(
            cdr_id,
            request_timeout=request_timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        async with stream as audio:
            return await audio.save(dest)

    async def download_voicemail_recording(
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
        """Save a voicemail message to ``dest`` (a directory or a file path); return the path.

        Examples:
            >>> await client.download_voicemail_recording(
            ...     "1739558127.155", "voicemail/", context="voicemail-02191010001",
            ...     mailbox="1001")
        """
        stream = self.stream_voicemail_recording(
            unique_id,
            context=context,
            mailbox=mailbox,
            request_timeout=request_timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        async with stream as audio:
            return await audio.save(dest)


def _check_deadline(deadline: float | None) -> None:
    if deadline is None:
        return
    if isinstance(deadline, bool) or not isinstance(deadline, int | float) or deadline <= 0:
        raise ValueError(
            f"deadline must be a number of seconds above 0, or None; got {deadline!r}"
        )


def _check_retries(max_retries: int) -> None:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError("max_retries must be a whole number, 0 or more")


def _call_body(
    call_source: str, call_destination: str, timeout: int | None, limit: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "call_source": normalize_phone_number(call_source),
        "call_destination": normalize_phone_number(call_destination),
    }
    if timeout is not None:
        body["timeout"] = timeout
    if limit is not None:
        body["limit"] = limit
    return body
