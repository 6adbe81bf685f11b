"""What went wrong with an attempt: a ``Failure`` for the policy, then the caller's error.

An attempt that fails is classified here into a plain ``Failure`` (``_retry``): what
happened (its ``cause``), whether the server may have acted on it, whether trying again
could help. Only when the policy gives up is the typed error built from it, once
(``error_of``): transport failures, error answers and passed deadlines each become the
matching ``voipano_async`` error, their text scrubbed of the token and naming the request.
"""

from __future__ import annotations

import ssl

import attrs
import httpx2

from . import _config
from ._body import with_body
from ._envelope import api_error, decode_error_body, parse_retry_after
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    VoipanoError,
)
from ._redact import Redactor
from ._retry import Failure

__all__ = [
    "CERTIFICATE_HELP",
    "PERMANENT",
    "certificate_failure",
    "deadline_failure",
    "describe_failure",
    "error_of",
    "redirect_target",
    "status_failure",
    "transport_failure",
]


@attrs.frozen
class _Answered:
    """An error status: the response, and its body as far as it was read."""

    response: httpx2.Response
    content: bytes


@attrs.frozen
class _Broken:
    """A failed exchange: the request, and what httpx2 raised."""

    request: httpx2.Request
    exc: httpx2.TransportError


@attrs.frozen
class _Overdue:
    """An attempt still unanswered when the client's ``deadline`` passed."""

    request: httpx2.Request
    deadline: float


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


def status_failure(response: httpx2.Response, content: bytes) -> Failure:
    """What an error answer means for trying again.

    The server answered: a charged call is unsafe to repeat unless the answer says it
    refused the call unseen (429), and only the statuses worth another try are retried.
    """
    status = response.status_code
    return Failure(
        _Answered(response, content),
        reason=f"HTTP {status}",
        maybe_sent=status != 429,
        retryable=status in _config.RETRYABLE_STATUS_CODES,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        status=status,
    )


def transport_failure(request: httpx2.Request, exc: httpx2.TransportError) -> Failure:
    """What a failed exchange means for trying again."""
    _, maybe_sent, reason = describe_failure(exc)
    return Failure(
        _Broken(request, exc),
        reason=reason,
        maybe_sent=maybe_sent,
        retryable=not isinstance(exc, PERMANENT) and certificate_failure(exc) is None,
    )


def deadline_failure(request: httpx2.Request, deadline: float) -> Failure:
    """The deadline passed: whatever was open is closed, and the request may have been
    acted on (it was sent, or may have been)."""
    return Failure(
        _Overdue(request, deadline), reason="deadline exceeded", maybe_sent=True, retryable=True
    )


def error_of(failure: Failure, *, charged: bool, redactor: Redactor) -> VoipanoError:
    """The error the caller gets for ``failure``, built once the policy has given up."""
    cause = failure.cause
    if isinstance(cause, VoipanoError):  # an answer read and found unreadable: built then
        return cause
    if isinstance(cause, _Answered):
        response = cause.response
        return api_error(
            with_body(response, cause.content),
            decode_error_body(cause.content, redact=redactor.secret),
            may_have_been_placed=charged and response.status_code >= 500,
            redact=redactor.secret,
        )
    if isinstance(cause, _Overdue):
        line = redactor.request_line(cause.request)
        return APITimeoutError(
            f"deadline exceeded on {line}: no complete answer within {cause.deadline:g}s "
            "(the client's deadline=)",
            may_have_been_placed=charged,
        )
    if not isinstance(cause, _Broken):
        raise TypeError(f"no error for a failure caused by {cause!r}")
    request, exc = cause.request, cause.exc
    error_cls, maybe_sent, reason = describe_failure(exc)
    untrusted = certificate_failure(exc)
    url = request.url
    where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    detail = redactor.redact(str(exc) or type(exc).__name__)
    if untrusted is not None:
        detail = CERTIFICATE_HELP.format(detail=redactor.redact(untrusted))
    return error_cls(
        f"{reason} on {redactor.request_line(request)} ({where}): {detail}",
        may_have_been_placed=charged and maybe_sent,
    )


def redirect_target(
    request: httpx2.Request, response: httpx2.Response, location: str, *, redactor: Redactor
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
        body=redactor.redact(location[:200]),
        response=response,
    )
