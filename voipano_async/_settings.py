"""A client's settings, each checked as it is made, in this one place.

``Settings`` is what one client is configured with: ``with_options`` makes a changed copy
with ``attrs.evolve``, checked exactly as the first was. ``PoolOptions`` is what a client
and all its copies share: the connection pool's settings and the limits. Both are frozen
attrs classes whose converters and validators hold every check of the constructor's
arguments (as ``RetryPolicy``'s hold its own), so nothing is allocated until everything
has passed.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs
import httpx2

from ._config import (
    DEFAULT_DEADLINE,
    DEFAULT_DOWNLOAD_TIMEOUT,
    DEFAULT_TIMEOUT,
    TOKEN_ENV,
)
from ._exceptions import VoipanoError
from ._retry import RetryPolicy
from ._types import Secret, describe_type, is_legacy_httpx, is_loopback, to_timeout

__all__ = ["PoolOptions", "Settings", "merge_retry"]


# -- Settings -----------------------------------------------------------------------------


def _token(value: str | Secret[str]) -> Secret[str]:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise TypeError(f"token must be a str, not {describe_type(value)}")
    token = value.strip()
    if not token:
        raise VoipanoError(
            f"no API token: pass token=... or set the {TOKEN_ENV} environment variable"
        )
    return Secret(token)


def _base_url(value: str | httpx2.URL) -> httpx2.URL:
    try:
        url = httpx2.URL(value)
    except httpx2.InvalidURL as exc:
        raise VoipanoError(f"invalid base_url {str(value)!r}: {exc}") from None
    if url.scheme in ("https", "http") and url.host:
        return url  # plain http: checked against allow_http, once both are known
    raise VoipanoError(
        f"base_url must be an https URL (plain http only for loopback hosts), got {str(value)!r}"
    )


def _plain_http(instance: Settings, attribute: Any, url: httpx2.URL) -> None:
    """Plain http only to this machine, unless ``allow_http=True`` says otherwise."""
    if url.scheme == "https" or is_loopback(url.host) or instance.allow_http:
        return
    raise VoipanoError(
        f"base_url must be an https URL (plain http only for loopback hosts, or with "
        f"allow_http=True), got {str(url)!r}"
    )


def _timeout(value: float | httpx2.Timeout) -> httpx2.Timeout:
    return to_timeout(value, "timeout")


def _download_timeout(value: float | httpx2.Timeout) -> httpx2.Timeout:
    return to_timeout(value, "download_timeout")


def _default_headers(value: Any) -> Mapping[str, str]:
    if value is None:
        return _NO_HEADERS
    if not isinstance(value, Mapping):
        raise TypeError(
            f"default_headers must be a mapping of str to str, not {describe_type(value)}"
        )
    headers = dict(value)
    for name, text in headers.items():
        if not isinstance(name, str) or not isinstance(text, str):
            raise TypeError("default_headers must be a mapping of str to str")
        if name.strip().lower() == "authorization":
            raise ValueError(
                "default_headers may not set Authorization: pass token= (a client sends "
                "its token only to the API host)"
            )
    return MappingProxyType(headers)


_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


def _policy(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, RetryPolicy):
        raise TypeError(f"retry must be a voipano_async.RetryPolicy, not {describe_type(value)}")


def _deadline(instance: Any, attribute: Any, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"deadline must be a number of seconds above 0, or None; got {value!r}")


def _flag(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be True or False, not {describe_type(value)}")


@attrs.frozen(kw_only=True)
class Settings:
    """What one client (as opposed to the pool it shares) is configured with."""

    token: Secret[str] = attrs.field(converter=_token)
    base_url: httpx2.URL = attrs.field(converter=_base_url, validator=_plain_http)
    timeout: httpx2.Timeout = attrs.field(default=DEFAULT_TIMEOUT, converter=_timeout)
    download_timeout: httpx2.Timeout = attrs.field(
        default=DEFAULT_DOWNLOAD_TIMEOUT, converter=_download_timeout
    )
    retry: RetryPolicy = attrs.field(factory=RetryPolicy, validator=_policy)
    deadline: float | None = attrs.field(default=DEFAULT_DEADLINE, validator=_deadline)
    strict_responses: bool = attrs.field(default=False, validator=_flag)
    # Validators run once every field is set: base_url's check sees this.
    allow_http: bool = attrs.field(default=False, validator=_flag)
    # Sent with every request of this client (a tenant's id, say), under the caller's own.
    default_headers: Mapping[str, str] = attrs.field(
        default=_NO_HEADERS, converter=_default_headers
    )


def merge_retry(retry: object, max_retries: object, *, base: RetryPolicy) -> RetryPolicy:
    """The policy from ``retry=`` and the ``max_retries=`` shorthand, on top of ``base``.

    Either is ``None`` when not given. Both given must agree: one setting, not two that
    silently override each other.
    """
    if max_retries is not None and (
        isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
    ):
        raise ValueError("max_retries must be a whole number, 0 or more")
    if retry is None:
        if max_retries is None or max_retries == base.max_retries:
            return base
        return attrs.evolve(base, max_retries=max_retries)
    if not isinstance(retry, RetryPolicy):
        raise TypeError(f"retry must be a voipano_async.RetryPolicy, not {describe_type(retry)}")
    if max_retries is not None and max_retries != retry.max_retries:
        raise ValueError(
            f"max_retries={max_retries} and retry=RetryPolicy(max_retries={retry.max_retries}) "
            "disagree; give it once, inside retry="
        )
    return retry


# -- PoolOptions --------------------------------------------------------------------------


def _at_least_one(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{attribute.name} must be at least 1")


def _credit(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or value < 0):
        raise ValueError(f"{attribute.name} must be a number of credit units, 0 or more")


def _http_client(instance: Any, attribute: Any, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, httpx2.AsyncClient):
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
    if instance.proxy is not None or instance.verify is not True:
        raise ValueError("pass proxy= and verify= to your own http_client, not to AsyncVoipano")


def _proxy(instance: Any, attribute: Any, value: Any) -> None:
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


def _verify(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool | ssl.SSLContext):
        return
    raise TypeError(
        "verify must be True, False or an ssl.SSLContext "
        f"(ssl.create_default_context(cafile=...) for a CA bundle), not {describe_type(value)}"
    )


@attrs.frozen(kw_only=True)
class PoolOptions:
    """What a client and its ``with_options`` copies share, checked before any is made.

    The rate limit checks itself (``RateLimiter``); everything else is checked here.
    """

    max_concurrency: int | None = attrs.field(default=None, validator=_at_least_one)
    spend_limit: int | None = attrs.field(default=None, validator=_credit)
    min_credit: int | None = attrs.field(default=None, validator=_credit)
    proxy: str | httpx2.URL | httpx2.Proxy | None = attrs.field(default=None, validator=_proxy)
    verify: ssl.SSLContext | bool = attrs.field(default=True, validator=_verify)
    # Checked last: it must come with neither proxy= nor verify=.
    http_client: httpx2.AsyncClient | None = attrs.field(default=None, validator=_http_client)

    def open_http_client(self, timeout: httpx2.Timeout) -> tuple[httpx2.AsyncClient, bool]:
        """The caller's HTTP client, or a new one with the SDK's defaults; and whether new."""
        if self.http_client is not None:
            return self.http_client, False
        client = httpx2.AsyncClient(
            proxy=self.proxy,
            verify=self.verify,
            timeout=timeout,
            follow_redirects=False,
            limits=httpx2.Limits(max_connections=100, max_keepalive_connections=20),
        )
        return client, True
