"""What went wrong with an attempt, as a ``Failure`` the retry policy can decide on.

Transport failures, error answers and unusable redirects each become the matching
``voipano_async`` error, their text scrubbed of the token and naming the request.
"""

from __future__ import annotations

import ssl
from typing import Protocol

import attrs
import httpx2

from . import _config
from ._body import with_body
from ._envelope import api_error, decode_error_body, parse_retry_after
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    RateLimitError,
    VoipanoError,
)

__all__ = [
    "CERTIFICATE_HELP",
    "PERMANENT",
    "Failure",
    "Scrub",
    "certificate_failure",
    "describe_failure",
    "redirect_target",
    "status_failure",
    "transport_failure",
]


class Scrub(Protocol):
    """How text that may echo the token is cleaned, and how a request is named."""

    @property
    def scrub_text(self) -> str | None: ...

    def redact(self, text: str) -> str: ...

    def request_line(self, request: httpx2.Request) -> str: ...


@attrs.frozen
class Failure:
    """Why one attempt failed, and what that means for trying again."""

    error: VoipanoError
    reason: str
    # Whether the server may have received (and acted on) the request.
    maybe_sent: bool
    # Whether another attempt could succeed (for a call that is safe to repeat).
    retryable: bool
    retry_after: float | None = None
    status: int | None = None


NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout, httpx2.ProxyError)
# Failures that would repeat identically on a second attempt.
PERMANENT = (httpx2.UnsupportedProtocol, httpx2.LocalProtocolError)


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


# What a transport error means, first match wins: (httpx2 error, the SDK's error, whether
# the request may have reached the server, the reason given). Anything else: dropped.
_Kinds = type[Exception] | tuple[type[Exception], ...]
TRANSPORT_FAILURES: tuple[tuple[_Kinds, type[APIConnectionError], bool, str], ...] = (
    (httpx2.LocalProtocolError, APIConnectionError, False, "invalid request"),
    (httpx2.ConnectTimeout, APITimeoutError, False, "connect timeout"),
    (httpx2.PoolTimeout, APITimeoutError, False, "pool timeout"),
    (NOT_SENT, APIConnectionError, False, "connection failed"),
    (httpx2.UnsupportedProtocol, APIConnectionError, False, "unsupported protocol"),
    (httpx2.ReadTimeout, APITimeoutError, True, "read timeout"),
    (httpx2.WriteTimeout, APITimeoutError, True, "write timeout"),
)


def describe_failure(exc: httpx2.TransportError) -> tuple[type[APIConnectionError], bool, str]:
    """(error class, whether the request may have reached the server, short reason)."""
    if isinstance(exc, httpx2.ConnectError) and certificate_failure(exc) is not None:
        return APIConnectionError, False, "TLS certificate not trusted"
    for kind, error, maybe_sent, reason in TRANSPORT_FAILURES:
        if isinstance(exc, kind):
            return error, maybe_sent, reason
    return APIConnectionError, True, "connection dropped"


def status_failure(
    response: httpx2.Response, content: bytes, *, charged: bool, scrub: Scrub
) -> Failure:
    """What an error answer means: its error, and whether trying again could help."""
    status = response.status_code
    # The server answered: a charged call is unsafe to repeat unless the answer
    # says the server refused it (4xx), and only 429 is retried.
    error = api_error(
        with_body(response, content),
        decode_error_body(content, redact=scrub.scrub_text),
        may_have_been_placed=charged and status >= 500,
        redact=scrub.scrub_text,
        request_line=scrub.request_line(response.request),
    )
    retry_after = (
        error.retry_after
        if isinstance(error, RateLimitError)
        else parse_retry_after(response.headers.get("retry-after"))
    )
    return Failure(
        error,
        reason=f"HTTP {status}",
        maybe_sent=status != 429,
        retryable=status in _config.RETRYABLE_STATUS_CODES,
        retry_after=retry_after,
        status=status,
    )


def transport_failure(
    request: httpx2.Request, exc: httpx2.TransportError, *, charged: bool, scrub: Scrub
) -> Failure:
    """What a failed exchange means: its error, and whether trying again could help."""
    error_cls, maybe_sent, reason = describe_failure(exc)
    untrusted = certificate_failure(exc)
    url = request.url
    where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    detail = scrub.redact(str(exc) or type(exc).__name__)
    if untrusted is not None:
        detail = CERTIFICATE_HELP.format(detail=scrub.redact(untrusted))
    error = error_cls(
        f"{reason} on {scrub.request_line(request)} ({where}): {detail}",
        may_have_been_placed=charged and maybe_sent,
    )
    return Failure(
        error,
        reason=reason,
        maybe_sent=maybe_sent,
        retryable=not isinstance(exc, PERMANENT) and untrusted is None,
    )


def redirect_target(
    request: httpx2.Request, response: httpx2.Response, location: str, *, scrub: Scrub
) -> httpx2.URL:
    """Where a redirect leads, or an ``APIError`` when it leads nowhere we can go."""
    problem = None
    try:
        url = request.url.join(location)
    except (httpx2.InvalidURL, ValueError, TypeError) as exc:
        problem = str(exc)
    else:
        if url.scheme not in {"http", "https"}:
            problem = f"the scheme {url.scheme or 'none'!r} cannot be fetched"
        elif not url.host:
            problem = "it names no host"
        elif url.port is not None and not 0 < url.port < 65536:
            problem = f"the port {url.port} does not exist"
    if problem is None:
        return url
    raise APIError(
        f"the server redirected to a location that cannot be followed ({problem})",
        status_code=response.status_code,
        body=scrub.redact(location[:200]),
        response=response,
        request_line=scrub.request_line(request),
    )
