"""The retry policy, in one place: what a failure means, and whether to try again.

The rule that matters most: a charged call (``call_otp``, ``click_to_call``,
``secure_call``) is re-sent only when the server provably did not act on it, which is when
no connection was ever made (connect error, connect or pool timeout) or when the server
answered 429. After a read timeout, a dropped connection, a passed deadline or any 5xx
the caller gets the error, marked ``may_have_been_placed``. No setting changes that.
"""

from __future__ import annotations

import random

import attrs

from . import _config
from ._failures import Failure

__all__ = ["RetryPolicy"]


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
