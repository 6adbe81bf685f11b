"""Small types and checks shared by the client's modules: the one internal types module."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Final, Generic, TypedDict, TypeVar

import httpx2

__all__ = [
    "NOT_GIVEN",
    "CallOptions",
    "NotGiven",
    "ReadOptions",
    "RequestOptions",
    "Secret",
    "TimeoutTypes",
    "describe_type",
    "is_legacy_httpx",
    "is_loopback",
    "to_timeout",
]

S = TypeVar("S")

TimeoutTypes = float | httpx2.Timeout | None


class ReadOptions(TypedDict, total=False):
    """What any one call may add to its request, as keyword arguments of the method.

    ``await client.services(request_timeout=5, extra_headers={"X-Trace": "abc"})``
    """

    request_timeout: TimeoutTypes
    """The HTTP timeout of this request, in seconds or as an ``httpx2.Timeout``."""
    extra_headers: Mapping[str, str] | None
    """Headers to add (``Authorization`` is refused: the client sends the token itself)."""
    extra_query: Mapping[str, Any] | None
    """Query parameters to add, e.g. filters the published API page does not list yet."""


class RequestOptions(ReadOptions, total=False):
    """[`ReadOptions`][voipano_async.ReadOptions], and for the charged calls (POST) a body.

    ``await client.call_otp("09123456789", extra_body={"lang": "fa"})``
    """

    extra_body: Mapping[str, Any] | None
    """JSON fields to add to the request body."""


class CallOptions(RequestOptions, total=False):
    """What ``click_to_call`` and ``secure_call`` take besides the two numbers.

    The vendor gives both endpoints the same two optional fields, declared here once;
    with them, any of the [`RequestOptions`][voipano_async.RequestOptions].
    ``await client.click_to_call("09123456789", "02191010001", timeout=30, limit=600)``
    """

    timeout: int | None
    """The API's ``timeout`` field: how long to ring, in seconds (most likely). Not the
    HTTP timeout: that is ``request_timeout``."""
    limit: int | None
    """The API's ``limit`` field: the longest the call may last, in seconds (most likely)."""


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


class Secret(Generic[S]):
    """Holds the token (or headers carrying it); its repr never shows it."""

    __slots__ = ("value",)

    def __init__(self, value: S) -> None:
        self.value: S = value

    def __repr__(self) -> str:
        return "Secret('***')"


def is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class NotGiven:
    """The type of [`NOT_GIVEN`][voipano_async.NOT_GIVEN]: "leave this setting as it is".

    Used where ``None`` is a meaningful value (``deadline=None`` turns the deadline off),
    so it cannot also mean "not given".
    """

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN: Final[NotGiven] = NotGiven()
"""The default of ``with_options`` arguments: keep this client's setting."""
