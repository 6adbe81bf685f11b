"""A client's settings, frozen: ``with_options`` makes a changed copy with ``attrs.evolve``."""

from __future__ import annotations

import attrs
import httpx2

from ._retry import RetryPolicy
from ._types import Secret

__all__ = ["Settings"]


@attrs.frozen(kw_only=True)
class Settings:
    """What one client (as opposed to the pool it shares) is configured with."""

    token: Secret[str]
    base_url: httpx2.URL
    timeout: httpx2.Timeout
    download_timeout: httpx2.Timeout
    retry: RetryPolicy
    deadline: float | None
