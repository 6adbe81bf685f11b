"""The constructor's checks: every argument is refused before anything is allocated."""

from __future__ import annotations

import ssl

import attrs
import httpx2

from ._exceptions import VoipanoError
from ._retry import RetryPolicy
from ._types import describe_type, is_legacy_httpx, is_loopback

__all__ = [
    "check_base_url",
    "check_deadline",
    "check_http_client",
    "check_proxy",
    "check_retries",
    "check_verify",
    "retry_policy",
]


def check_base_url(base_url: str) -> httpx2.URL:
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


def check_http_client(value: object) -> None:
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


def check_proxy(value: object) -> None:
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


def check_verify(value: object) -> None:
    if isinstance(value, bool | ssl.SSLContext):
        return
    raise TypeError(
        "verify must be True, False or an ssl.SSLContext "
        f"(ssl.create_default_context(cafile=...) for a CA bundle), not {describe_type(value)}"
    )


def check_deadline(deadline: float | None) -> None:
    if deadline is None:
        return
    if isinstance(deadline, bool) or not isinstance(deadline, int | float) or deadline <= 0:
        raise ValueError(
            f"deadline must be a number of seconds above 0, or None; got {deadline!r}"
        )


def check_retries(max_retries: int) -> None:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError("max_retries must be a whole number, 0 or more")


def retry_policy(
    retry: RetryPolicy | None, max_retries: int | None, *, base: RetryPolicy
) -> RetryPolicy:
    """The policy from ``retry=`` and the ``max_retries=`` shorthand, on top of ``base``.

    ``max_retries`` is ``None`` when not given. Both given must agree: one setting, not
    two that silently override each other.
    """
    if max_retries is not None:
        check_retries(max_retries)
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
