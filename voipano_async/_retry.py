"""The retry policy, in one place: what a failure means, and whether to try again.

The rule that matters most: a charged call (``call_otp``, ``click_to_call``,
``secure_call``) is re-sent only when the server provably did not act on it, which is when
no connection was ever made (connect error, connect or pool timeout) or when the server
answered 429. After a read timeout, a dropped connection, a passed deadline or any 5xx
the caller gets the error, marked ``may_have_been_placed``. No setting changes that.
"""

from __future__ import annotations

import random
import ssl

import attrs
import httpx2

from . import _config
from ._exceptions import APIConnectionError, APITimeoutError, VoipanoError

__all__ = [
    "CERTIFICATE_HELP",
    "PERMANENT",
    "Failure",
    "RetryPolicy",
    "certificate_failure",
    "describe_failure",
]


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


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How long to wait between attempts, and when to give up.

    Attributes:
        max_retries: Extra attempts after the first.
        initial: The first wait, in seconds; each next wait doubles it.
        cap: The longest wait between attempts.
        max_retry_after: A server asking to wait longer than this gets its error raised.
        jitter: The fraction (0 to 1) by which a wait is shortened at random, so that
            clients that failed together do not retry together.
    """

    max_retries: int = _config.DEFAULT_MAX_RETRIES
    initial: float = _config.BACKOFF_INITIAL
    cap: float = _config.BACKOFF_CAP
    max_retry_after: float = _config.MAX_RETRY_AFTER
    jitter: float = 0.25

    @classmethod
    def default(cls, max_retries: int = _config.DEFAULT_MAX_RETRIES) -> RetryPolicy:
        """The policy from the defaults in ``_config`` as they are now."""
        return cls(
            max_retries=max_retries,
            initial=_config.BACKOFF_INITIAL,
            cap=_config.BACKOFF_CAP,
            max_retry_after=_config.MAX_RETRY_AFTER,
        )

    def backoff(self, attempt: int, *, rand: float | None = None) -> float:
        """The wait before retry number ``attempt`` (1 for the first retry)."""
        delay = min(self.cap, self.initial * 2.0 ** min(attempt - 1, 32))
        return delay * (1 - self.jitter * (random.random() if rand is None else rand))

    def decide(self, attempt: int, *, charged: bool, failure: Failure) -> float | None:
        """After attempt number ``attempt`` failed: seconds to wait, or ``None`` to give up.

        A pure decision: the same arguments give the same answer (up to the jitter).
        """
        if attempt > self.max_retries or not failure.retryable:
            return None
        if charged and failure.maybe_sent:
            return None  # never charge twice: not configurable
        if failure.retry_after is None:
            return self.backoff(attempt)
        if failure.retry_after > self.max_retry_after:
            return None
        return failure.retry_after


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


def describe_failure(exc: httpx2.TransportError) -> tuple[type[APIConnectionError], bool, str]:
    """(error class, whether the request may have reached the server, short reason)."""
    if isinstance(exc, httpx2.ConnectError) and certificate_failure(exc) is not None:
        return APIConnectionError, False, "TLS certificate not trusted"
    if isinstance(exc, httpx2.LocalProtocolError):
        return APIConnectionError, False, "invalid request"
    if isinstance(exc, httpx2.ConnectTimeout):
        return APITimeoutError, False, "connect timeout"
    if isinstance(exc, httpx2.PoolTimeout):
        return APITimeoutError, False, "pool timeout"
    if isinstance(exc, NOT_SENT):
        return APIConnectionError, False, "connection failed"
    if isinstance(exc, httpx2.UnsupportedProtocol):
        return APIConnectionError, False, "unsupported protocol"
    if isinstance(exc, httpx2.ReadTimeout):
        return APITimeoutError, True, "read timeout"
    if isinstance(exc, httpx2.WriteTimeout):
        return APITimeoutError, True, "write timeout"
    return APIConnectionError, True, "connection dropped"
