"""``DefaultAioHttpClient``: httpx2's API over aiohttp's connection pool (the aiohttp extra).

httpx2's own pool costs several times the CPU per request that aiohttp's does (measured
in ``benchmarks/sockets.py``); an aiohttp service that calls us pays it on every call. This
is an ``httpx2.AsyncClient`` whose transport sends with aiohttp, so the SDK's one request
path (retries, deadline, errors, telemetry) is unchanged and only the pool differs.

The transport is ours, not ``httpx-aiohttp``'s: that one maps a connection the server
dropped after reading the request to ``ConnectTimeout`` (which says "not sent", so a
charged call would be sent again), lets aiohttp's own exceptions escape, closes a session
it was given, and depends on the legacy ``httpx``. Here every aiohttp failure becomes the
httpx2 error its phase means (before the connection: ``ConnectError``/``ConnectTimeout``;
after it: ``ReadError``, ``RemoteProtocolError``, ``ReadTimeout``), a wait for a pooled
connection past ``pool`` is ``PoolTimeout``, and an application's session is used as given
and never closed.

asyncio only (aiohttp is asyncio's): on trio the first request raises ``TypeError``,
saying to use the default client.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import httpx2
from aiohttp import client_exceptions as ce
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import _config
from ._body import WholeBody

__all__ = ["AioHttpTransport", "DefaultAioHttpClient"]

DEFAULT_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20)


def _mapped(exc: BaseException, *, connected: bool) -> httpx2.TransportError | None:
    """The httpx2 error an aiohttp failure means; ``connected``: the request may be out."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ce.SocketTimeoutError):
        return httpx2.ReadTimeout(text)
    if isinstance(exc, ce.ConnectionTimeoutError):
        return httpx2.ConnectTimeout(text)
    if isinstance(exc, ce.ClientHttpProxyError | ce.ClientProxyConnectionError):
        return httpx2.ProxyError(text)
    if isinstance(exc, ce.ClientConnectorError):  # DNS, refused, TLS: nothing was sent
        error = httpx2.ConnectError(text)
        error.__cause__ = exc.__cause__ or exc  # the certificate's error, for the SDK
        return error
    if isinstance(exc, ce.InvalidURL | ce.NonHttpUrlClientError):
        return httpx2.UnsupportedProtocol(text)
    if isinstance(exc, ce.ServerDisconnectedError):
        return httpx2.RemoteProtocolError(text)
    if isinstance(exc, ce.ClientPayloadError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, OSError):
            return httpx2.ReadError(text)
        return httpx2.RemoteProtocolError(text)
    if isinstance(exc, ce.ClientResponseError):  # a status line or header that is not HTTP
        return httpx2.RemoteProtocolError(text)
    if isinstance(exc, ce.ClientConnectionError | ConnectionError):
        return httpx2.ReadError(text) if connected else httpx2.ConnectError(text)
    if isinstance(exc, ce.ClientError):
        return httpx2.RemoteProtocolError(text)
    if isinstance(exc, TimeoutError):
        return httpx2.ReadTimeout(text) if connected else httpx2.ConnectTimeout(text)
    return None


def _raise_mapped(exc: Exception, *, connected: bool) -> None:
    mapped = _mapped(exc, connected=connected)
    if mapped is not None:
        raise mapped from exc


class _Body(WholeBody):
    """An answer's body, read from aiohttp as it arrives; closing it frees the connection."""

    __slots__ = ("_closed", "_release", "_response")

    def __init__(self, response: aiohttp.ClientResponse, release: Callable[[], None]) -> None:
        self._response = response
        self._release = release
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        while True:
            try:
                chunk = await content.readany()
            except Exception as exc:
                # The bytes that came before the connection broke are the answer's too
                # (a download resumes after them); aiohttp keeps them back once it
                # knows of the break.
                if kept := _kept_back(content):
                    yield kept
                _raise_mapped(exc, connected=True)
                raise
            if not chunk:
                return
            yield chunk

    async def read_whole(self) -> bytes:
        try:
            content: bytes = await self._response.read()
        except Exception as exc:
            _raise_mapped(exc, connected=True)
            raise
        finally:
            self._close()
        return content

    async def aclose(self) -> None:
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            # Read to its end, the connection goes back to the pool; else it is closed.
            self._response.release()
            self._release()


def _kept_back(content: aiohttp.StreamReader) -> bytes:
    """What aiohttp received but no longer hands out, its stream having failed."""
    try:
        kept: bytes = content._read_nowait(-1)  # its one reader that does not re-raise
    except Exception:  # another aiohttp: the bytes are lost, the download starts over
        return b""
    return kept


def _on_asyncio() -> None:
    native = anyio.lowlevel.current_token().native_token
    if "trio" in type(native).__module__:
        _refuse_trio()


def _refuse_trio() -> None:
    # A TypeError: the wrong client for this event loop, raised as it is (a RuntimeError
    # would read as a closed client).
    raise TypeError(
        "DefaultAioHttpClient runs on asyncio only (aiohttp is asyncio's): on trio, "
        "leave http_client unset for the SDK's default client"
    )


class AioHttpTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport that sends with aiohttp.

    Args:
        verify: ``True`` trusts the operating system's CA certificates
            (``SSL_CERT_FILE``/``SSL_CERT_DIR`` first), as httpx2's default client
            does; an ``ssl.SSLContext`` trusts what it holds; ``False`` checks nothing.
        limits: ``max_connections`` bounds the connections (a wait past the request's
            ``pool`` timeout raises ``PoolTimeout``); ``keepalive_expiry`` closes idle
            ones.
        proxy: A proxy URL for every request. Without it, ``HTTPS_PROXY``,
            ``HTTP_PROXY`` and ``NO_PROXY`` are honoured (``trust_env``).
        trust_env: Read proxies and CA locations from the environment.
        session: An application's own ``aiohttp.ClientSession`` to send with: used as
            given (its connector, TLS settings, default headers and cookie jar) and never
            closed by us. Not with ``verify``, ``limits`` or ``proxy``.
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx2.Limits = DEFAULT_LIMITS,
        proxy: str | None = None,
        trust_env: bool = True,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._proxy = proxy
        # The environment's proxies, read once (aiohttp's trust_env reads them, and
        # ~/.netrc, in a thread on every request: several times the cost of the request).
        self._env_proxies: dict[str, str] = {}
        if proxy is None and trust_env and session is None:
            self._env_proxies = urllib.request.getproxies_environment()
        self._proxy_of: dict[tuple[str, str], str | None] = {}
        self._ssl: ssl.SSLContext | None = None
        if session is None:
            self._ssl = httpx2.create_ssl_context(verify=verify, trust_env=trust_env)
        self._keepalive = limits.keepalive_expiry
        self._slots: anyio.Semaphore | None = None
        if limits.max_connections is not None and self._owns_session:
            # fast_acquire: a free connection is taken without a trip through the event
            # loop (a wait for one still queues fairly).
            self._slots = anyio.Semaphore(limits.max_connections, fast_acquire=True)
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}
        self._header_sets: dict[tuple[tuple[bytes, bytes], ...], CIMultiDictProxy[str]] = {}
        self._extensions: dict[tuple[object, str | None], dict[str, bytes]] = {}

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            ssl=self._ssl if self._ssl is not None else True,
            limit=0,  # the semaphore bounds them, so that a wait is a PoolTimeout
            keepalive_timeout=self._keepalive or 5.0,
        )
        return aiohttp.ClientSession(connector=connector, auto_decompress=False)

    def _proxy_for(self, url: httpx2.URL) -> str | None:
        """The proxy for ``url``: ``proxy=``, else the environment's (``NO_PROXY`` heeded)."""
        if self._proxy is not None or not self._env_proxies:
            return self._proxy
        key = (url.scheme, url.host)
        if key not in self._proxy_of:
            proxies = self._env_proxies
            found = proxies.get(url.scheme) or proxies.get("all")
            if found and urllib.request.proxy_bypass_environment(url.host, proxies):  # type: ignore[attr-defined]
                found = None
            self._proxy_of[key] = found
        return self._proxy_of[key]

    def _timeout(self, timeouts: dict[str, float | None]) -> aiohttp.ClientTimeout:
        key = (timeouts.get("connect"), timeouts.get("read"))
        made = self._timeouts.get(key)
        if made is None:
            made = self._timeouts[key] = aiohttp.ClientTimeout(
                total=None, sock_connect=key[0], sock_read=key[1]
            )
        return made

    async def _wait_for_slot(self, pool: float | None) -> Callable[[], None]:
        """Wait at most ``pool`` seconds for a connection (every one is in use)."""
        assert self._slots is not None
        try:
            with anyio.fail_after(pool):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx2.PoolTimeout("timed out waiting for a connection from the pool") from None
        return self._slots.release

    def _headers(self, request: httpx2.Request) -> CIMultiDictProxy[str]:
        """The request's headers as aiohttp takes them (a read-only multidict it copies);
        the API's few sets made once."""
        raw = request.headers.raw
        key = tuple(raw)
        made = self._header_sets.get(key)
        if made is None:
            pairs = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]
            made = CIMultiDictProxy(CIMultiDict(pairs))
            if len(self._header_sets) < 64:
                self._header_sets[key] = made
        return made

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        _on_asyncio()
        return await self.send(request)

    async def send(self, request: httpx2.Request) -> httpx2.Response:
        """``handle_async_request`` once the event loop is known to be asyncio's."""
        session = self._session
        if session is None:
            session = self._session = self._new_session()
        timeouts = request.extensions.get("timeout", {})
        slots = self._slots
        if slots is None:
            release = _nothing
        else:
            try:
                slots.acquire_nowait()  # a free connection: no wait, no trip through the loop
                release = slots.release
            except anyio.WouldBlock:
                release = await self._wait_for_slot(timeouts.get("pool"))
        try:
            stream = request.stream
            data: Any = request.content if isinstance(stream, httpx2.ByteStream) else stream
            response = await session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=self._headers(request),
                data=data or None,
                allow_redirects=False,
                auto_decompress=False,
                raise_for_status=False,
                timeout=self._timeout(timeouts),
                proxy=self._proxy_for(request.url),
            )
        except BaseException as exc:
            release()
            if isinstance(exc, Exception):
                connected = not isinstance(
                    exc, ce.ClientConnectorError | ce.ConnectionTimeoutError
                )
                _raise_mapped(exc, connected=connected)
            raise
        return httpx2.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, release),
            request=request,
            extensions=self._extensions_of(response),
        )

    def _extensions_of(self, response: aiohttp.ClientResponse) -> dict[str, bytes]:
        """httpx2's ``http_version`` and ``reason_phrase`` of an answer (a copy)."""
        key = (response.version, response.reason)
        made = self._extensions.get(key)
        if made is None:
            version = response.version
            made = {
                "http_version": (
                    f"HTTP/{version.major}.{version.minor}" if version else "HTTP/1.1"
                ).encode(),
                "reason_phrase": (response.reason or "").encode(),
            }
            if len(self._extensions) < 64:
                self._extensions[key] = made
        return dict(made)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()


def _nothing() -> None:
    return None


class DefaultAioHttpClient(httpx2.AsyncClient):
    """An ``httpx2.AsyncClient`` that sends with aiohttp, for ``http_client=``.

    The SDK's defaults (100 connections, 20 kept alive, its timeouts, no redirects, TLS
    trust and proxies as its default client has them) on aiohttp's connection pool, which
    costs a fraction of the CPU per request of httpx2's. Needs the ``aiohttp`` extra;
    asyncio only.

    Args:
        session: An application's own ``aiohttp.ClientSession`` to share (an aiohttp
            service's): used as given and never closed by us. Not with ``verify``,
            ``limits`` or ``proxy``.
        verify: As ``AsyncVoipano``'s ``verify``.
        proxy: A proxy URL; without it, ``HTTPS_PROXY``/``NO_PROXY`` are honoured.
        timeout: The default timeout (the SDK passes its own with every request).
        limits: Connection limits (default: 100 connections, 20 kept alive).
        **kwargs: Any other ``httpx2.AsyncClient`` argument (``headers``, ...).

    Examples:
        >>> from voipano_async import AsyncVoipano, DefaultAioHttpClient
        >>> async with AsyncVoipano(http_client=DefaultAioHttpClient()) as client:
        ...     services = await client.services()
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        verify: ssl.SSLContext | bool | None = None,
        proxy: str | None = None,
        timeout: httpx2.Timeout = _config.DEFAULT_TIMEOUT,
        limits: httpx2.Limits | None = None,
        **kwargs: Any,
    ) -> None:
        if session is not None and (verify is not None or proxy is not None or limits is not None):
            raise ValueError(
                "DefaultAioHttpClient(session=...) sends with that session as it is: "
                "configure verify, limits and proxies on the session instead"
            )
        transport = AioHttpTransport(
            verify=True if verify is None else verify,
            limits=limits or DEFAULT_LIMITS,
            proxy=proxy,
            session=session,
        )
        kwargs.setdefault("follow_redirects", False)
        super().__init__(transport=transport, timeout=timeout, **kwargs)
        self._aiohttp = transport

    def _voipano_direct(self, on_trio: bool) -> AioHttpTransport | None:
        """The transport the SDK may hand its requests to itself, or ``None``.

        ``httpx2.AsyncClient.send`` costs a fifth of a call's CPU on this client (its
        auth, redirect and hook layers, a timer, a cookie jar the aiohttp session keeps
        already). While none of them would act on a request (no ``auth``, event hooks or
        mounts; ``send`` not overridden), the SDK skips them. Read on every request: a
        caller may set hooks on the client later. What ``send`` checks first is checked
        here: a closed client refuses, and the event loop must be asyncio's (``on_trio``:
        the SDK's pool knows it already).
        """
        if (
            self._auth is None
            and not self._mounts
            and not self._event_hooks["request"]
            and not self._event_hooks["response"]
            and type(self).send is httpx2.AsyncClient.send
            and self._transport is self._aiohttp
        ):
            if self.is_closed:
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            if on_trio:
                _refuse_trio()
            return self._aiohttp
        return None
