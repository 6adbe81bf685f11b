"""How a call's request is built: as ``httpx2.AsyncClient.build_request`` does, made cheap.

``build_request`` parses the URL, merges the client's headers with ours, and turns the
timeout into a dict, on every call: about a fifth of what a call costs the SDK
(``benchmarks/overhead.py``). Here those parts, the same on every call, are made once and
kept: the URL of each path, the merged headers while the client's stay the same, the
timeout's dict. A client class that builds its requests its own way is asked to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote_plus

import httpx2

from ._types import Secret

__all__ = ["RequestBuilder"]

# Paths whose parsed URL is kept; ids make more of them, and those are parsed each time.
_URL_CACHE_SIZE = 64
_BUILD_REQUEST = httpx2.AsyncClient.build_request
_NO_BODY = httpx2.ByteStream(b"")


def _plain(params: Mapping[str, Any]) -> bool:
    """Whether every key is a str and every value a str or an int, written as httpx2 does.

    (httpx2 writes ``True`` as ``true`` and ``None`` as empty, and a list as one pair a
    value; those go through httpx2.)
    """
    for key, value in params.items():
        kind = type(value)
        if type(key) is not str or (kind is not str and kind is not int):
            return False
    return True


def _quoted(text: str) -> str:
    """``text`` as ``urlencode`` (so httpx2) writes it: ASCII letters and digits as they
    are (most keys and values), anything else through ``quote_plus``."""
    return text if text.isascii() and text.isalnum() else quote_plus(text)


def _query(params: Mapping[str, str | int]) -> str:
    """The query string of plain ``params``, as ``urlencode(params)`` writes it (an int is
    its digits, which need no quoting)."""
    return "&".join(
        f"{_quoted(key)}={value if type(value) is int else _quoted(value)}"  # type: ignore[arg-type]
        for key, value in params.items()
    )


class RequestBuilder:
    """Builds the API requests of one client configuration on one HTTP client."""

    def __init__(
        self, http: Callable[[], httpx2.AsyncClient], base: str, headers: Secret[dict[str, str]]
    ) -> None:
        self._http_of = http  # the HTTP client now: a pool may open a new one
        self._base = base.rstrip("/")
        self._headers = headers  # the API's, the token among them
        self._urls: dict[str, httpx2.URL] = {}
        # The client's headers (the object and its raw items) with ours merged over them.
        self._merged: Secret[tuple[httpx2.Headers, list[Any], httpx2.Headers] | None]
        self._merged = Secret(None)
        self._timeouts: tuple[httpx2.Timeout, dict[str, Any]] | None = None
        # Those headers as a request with no body has them (``Host`` first).
        self._bodiless: Secret[tuple[httpx2.Headers, httpx2.Headers] | None] = Secret(None)

    def build(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        timeout: httpx2.Timeout,
    ) -> httpx2.Request:
        """The request ``http.build_request`` would build, the caller's ``headers`` last."""
        http, url = self._http_of(), self._url(path)
        if type(http).build_request is not _BUILD_REQUEST:
            merged = {**self._headers.value, **(headers or {})}
            return http.build_request(
                method, url, params=params, json=json, headers=merged, timeout=timeout
            )
        client_headers = self._client_headers()
        if headers:
            client_headers = client_headers.copy()
            client_headers.update(headers)
        if http.params:
            params = http.params.merge(params)
        elif params and "?" not in path and _plain(params):
            # The query string as httpx2 would encode it, in one URL parsed from a string
            # (httpx2 keeps the latest parses): a third of the cost of merging params into
            # a parsed URL, which checks every component again.
            url = httpx2.URL(f"{self._base}{path}?{_query(params)}")
            params = None
        timeouts = self._timeouts
        if timeouts is None or timeouts[0] is not timeout:
            timeouts = self._timeouts = (timeout, timeout.as_dict())
        bodiless = method == "GET" and json is None and params is None
        if bodiless and not headers and not http.cookies:
            # A request with no body: its headers are the merged ones with ``Host`` first,
            # the same on every call, so made once (by httpx2) and copied.
            request = httpx2.Request(
                method,
                url,
                headers=self._bodiless_headers(client_headers),
                stream=_NO_BODY,
                extensions={"timeout": dict(timeouts[1])},
            )
            request.read()
            return request
        return httpx2.Request(
            method,
            url,
            params=params,
            json=json,
            headers=client_headers,
            cookies=http.cookies,
            extensions={"timeout": dict(timeouts[1])},
        )

    def _bodiless_headers(self, merged: httpx2.Headers) -> httpx2.Headers:
        """The headers httpx2 gives a request with no body and ``merged`` headers."""
        made = self._bodiless.value
        if made is None or made[0] is not merged:
            probe = httpx2.Request("GET", f"{self._base}/", headers=merged)
            made = self._bodiless.value = (merged, probe.headers)
        return made[1]

    def _url(self, path: str) -> httpx2.URL:
        """The API URL of ``path``, parsed once per path (the endpoints' paths are few)."""
        url = self._urls.get(path)
        if url is None:
            url = httpx2.URL(self._base + path)
            if len(self._urls) < _URL_CACHE_SIZE:
                self._urls[path] = url
        return url

    def _client_headers(self) -> httpx2.Headers:
        """The HTTP client's own headers with ours over them, merged once while they stay.

        Remade whenever the client's headers change (a caller may set them on a client it
        shares with us).
        """
        current = self._http_of().headers
        raw = current.raw
        cached = self._merged.value
        if cached is None or cached[0] is not current or cached[1] != raw:
            merged = httpx2.Headers(current)
            merged.update(self._headers.value)
            cached = self._merged.value = (current, raw, merged)
        return cached[2]
