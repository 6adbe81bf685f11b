"""The retry policy, in one place: what a failure means, and whether to try again.

The rule that matters most: a charged call (``call_otp``, ``click_to_call``,
``secure_call``) is re-sent only when the server provably did not act on it, which is when
no connection was ever made (connect error, connect or pool timeout) or when the server
answered 429. After a read timeout, a dropped connection, a passed deadline or any 5xx
the caller gets the error, marked ``may_have_been_placed``. No setting changes that.
"""

from __future__ import annotations

import math
import random

import attrs

from ._config import BACKOFF_CAP, BACKOFF_INITIAL, DEFAULT_MAX_RETRIES, MAX_RETRY_AFTER

__all__ = ["Failure", "RetryPolicy"]


@attrs.frozen
class Failure:
    """Why one attempt failed, as the policy reads it: plain facts, no error built yet.

    ``cause`` is what happened, for whoever builds the caller's error once the policy
    gives up (``_failures.error_of``); the policy never looks at it.
    """

    cause: object
    reason: str
    # Whether the server may have received (and acted on) the request.
    maybe_sent: bool
    # Whether another attempt could succeed (for a call that is safe to repeat).
    retryable: bool
    retry_after: float | None = None
    status: int | None = None


def _seconds(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"RetryPolicy.{attribute.name} must be a number of seconds")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"RetryPolicy.{attribute.name} must be 0 or more seconds, got {value!r}")


def _retries(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("max_retries must be a whole number, 0 or more")


def _fraction(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"RetryPolicy.jitter must be a fraction from 0 to 1, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How long to wait between attempts, and when to give up: ``AsyncVoipano(retry=...)``.

    The default is what every client uses unless told otherwise. One rule is not a
    setting: a charged call is re-sent only when the server provably did not act on it
    (no connection was made, or it answered 429).

    Attributes:
        max_retries: Extra attempts after the first (default 2; 0 disables retries).
        initial: The first wait, in seconds (default 0.5); each next wait doubles it.
        cap: The longest wait between attempts (default 8 s).
        max_retry_after: A server asking (``Retry-After``) to wait longer than this, in
            seconds, gets its error raised at once (default 60).
        jitter: The fraction (0 to 1) by which a wait is shortened at random, so that
            clients that failed together do not retry together (default 0.25).

    Examples:
        >>> client = AsyncVoipano(retry=RetryPolicy(max_retries=5, initial=1.0, cap=30.0))
        >>> patient = client.with_options(retry=RetryPolicy(max_retry_after=300))
    """

    max_retries: int = attrs.field(default=DEFAULT_MAX_RETRIES, validator=_retries)
    initial: float = attrs.field(default=BACKOFF_INITIAL, validator=_seconds)
    cap: float = attrs.field(default=BACKOFF_CAP, validator=_seconds)
    max_retry_after: float = attrs.field(default=MAX_RETRY_AFTER, validator=_seconds)
    jitter: float = attrs.field(default=0.25, validator=_fraction)

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
