"""Per-call options (``request_timeout=``, ``extra_*=``), checked before anything is sent.

The public methods take them as ``**options`` (typed by ``ReadOptions``/``RequestOptions``)
and hand the dict to the transport untouched; ``parse_options`` is where it is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import httpx2

from ._types import describe_type, to_timeout

__all__ = ["NO_OPTIONS", "Options", "parse_options"]


@attrs.frozen
class Options:
    """What a caller may add to one request: ``request_timeout=``, ``extra_*=``."""

    timeout: httpx2.Timeout | None = None
    headers: Mapping[str, str] | None = None
    query: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None


NO_OPTIONS = Options()
_READ_KEYS = frozenset({"request_timeout", "extra_headers", "extra_query"})
_KEYS = _READ_KEYS | {"extra_body"}


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


def parse_options(options: Mapping[str, Any], *, body: bool) -> Options:
    """Check one call's ``**options``; ``body`` says whether ``extra_body`` is allowed.

    An unknown keyword is a ``TypeError`` naming it, as a misspelt argument always is.
    """
    if not options:
        return NO_OPTIONS
    allowed = _KEYS if body else _READ_KEYS
    for name in options:
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            extra = " (only the charged calls send a body)" if name == "extra_body" else ""
            raise TypeError(
                f"unexpected keyword argument {name!r}{extra}; the per-call options are {known}"
            )
    timeout = options.get("request_timeout")
    headers = options.get("extra_headers")
    query = options.get("extra_query")
    extra_body = options.get("extra_body")
    if timeout is None and not headers and not query and not extra_body:
        return NO_OPTIONS
    if headers:
        _check_headers(headers)
    return Options(
        timeout=None if timeout is None else to_timeout(timeout, "request_timeout"),
        headers=headers or None,
        query=query or None,
        body=extra_body or None,
    )
