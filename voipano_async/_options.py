"""Per-call options (``request_timeout=``, ``extra_*=``), checked before anything is sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import httpx2

from ._types import TimeoutTypes, describe_type, to_timeout

__all__ = ["NO_OPTIONS", "RequestOptions", "make_options"]


@attrs.frozen
class RequestOptions:
    """What a caller may add to one request: ``request_timeout=``, ``extra_*=``."""

    timeout: httpx2.Timeout | None = None
    headers: Mapping[str, str] | None = None
    query: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None


NO_OPTIONS = RequestOptions()


def _check_headers(headers: Mapping[str, str]) -> None:
    """Refuse, before anything is sent, headers that could not be sent as given."""
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(
                f"extra_headers must map str to str, not {describe_type(name)} to "
                f"{describe_type(value)}"
            )
        if name.lower() == "authorization":
            raise ValueError(
                "extra_headers may not set Authorization: the client sends the token itself, "
                "and only to the configured API host"
            )
        if not name.isascii() or not name or any(c in name for c in " \t\r\n:"):
            raise ValueError(f"extra_headers: {name!r} is not a valid header name")
        if not value.isascii() or any(c in value for c in "\r\n\0"):
            raise ValueError(
                f"extra_headers: the value of {name!r} must be ASCII text on one line "
                "(encode other text yourself, e.g. percent-encoding)"
            )


def make_options(
    request_timeout: TimeoutTypes,
    extra_headers: Mapping[str, str] | None,
    extra_query: Mapping[str, Any] | None,
    extra_body: Mapping[str, Any] | None = None,
) -> RequestOptions:
    """Validate per-call options; ``Authorization`` cannot be overridden."""
    if request_timeout is None and not extra_headers and not extra_query and not extra_body:
        return NO_OPTIONS
    if extra_headers:
        _check_headers(extra_headers)
    return RequestOptions(
        timeout=None
        if request_timeout is None
        else to_timeout(request_timeout, "request_timeout"),
        headers=extra_headers or None,
        query=extra_query or None,
        body=extra_body or None,
    )
