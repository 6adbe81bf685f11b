"""Scripted and random faults, for testing how code behaves when the service misbehaves."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

__all__ = ["FAULT_KINDS", "Fault", "Faults"]


@attrs.frozen(kw_only=True)
class Fault:
    """One scripted answer that replaces the sandbox's normal one.

    Build them with the class methods:
    [`error`][voipano_async.testing.Fault.error],
    [`html`][voipano_async.testing.Fault.html],
    [`rate_limited`][voipano_async.testing.Fault.rate_limited],
    [`slow`][voipano_async.testing.Fault.slow],
    [`drip`][voipano_async.testing.Fault.drip],
    [`drop`][voipano_async.testing.Fault.drop] and
    [`truncated`][voipano_async.testing.Fault.truncated].

    Attributes:
        status: Answer this status (with ``json`` or ``body``) instead of the real answer.
        json: A JSON body for ``status``.
        body: A raw body for ``status`` (an HTML page, say).
        headers: Extra response headers.
        delay: Seconds to wait before answering (after acting, when ``act``).
        act: Carry the request out first (charge the call, record it) as if it succeeded.
        disconnect: Close the connection instead of answering (after a bare head, which
            says nothing of what was coming).
        truncate: Send half of the real answer: JSON cut in half (a complete HTTP
            answer whose body is not valid JSON), or a download broken off midway (its
            headers promise the whole file, or the part asked for).
        drip_seconds: Send the real JSON answer a few bytes at a time, spread over this
            many seconds (each gap shorter than a read timeout, the whole longer than a
            deadline); a download is sent as is.
        kind: A short name for reports and random selection.
    """

    status: int | None = None
    json: Any = None
    body: bytes | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    act: bool = False
    disconnect: bool = False
    truncate: bool = False
    drip_seconds: float = 0.0
    kind: str = "custom"

    @classmethod
    def error(
        cls,
        status: int,
        json: Any = None,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        act: bool = False,
    ) -> Fault:
        """Answer ``status`` with a JSON (or raw) body; by default the server did not act."""
        if json is None and body is None:
            json = {"ok": False, "message": "خطای داخلی سرور"}
        return cls(
            status=status, json=json, body=body, headers=headers or {}, act=act, kind=str(status)
        )

    @classmethod
    def html(cls, status: int = 502) -> Fault:
        """An HTML error page, as a proxy in front of the service sends."""
        page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
        return cls(status=status, body=page, headers={"Content-Type": "text/html"}, kind="html")

    @classmethod
    def rate_limited(cls, retry_after: float | str = 1) -> Fault:
        """429 with ``Retry-After``."""
        return cls(
            status=429,
            json={"ok": False, "message": "تعداد درخواست‌ها بیش از حد مجاز است."},
            headers={"Retry-After": str(retry_after)},
            kind="429",
        )

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Carry the request out, then answer only after ``seconds`` (past a read timeout)."""
        return cls(delay=seconds, act=True, kind="slow")

    @classmethod
    def drip(cls, seconds: float) -> Fault:
        """Carry the request out, then trickle the JSON answer out over ``seconds``.

        A download is sent as is."""
        return cls(drip_seconds=seconds, act=True, kind="drip")

    @classmethod
    def drop(cls, *, after_acting: bool = False) -> Fault:
        """Close the connection without an answer, before or after carrying the request out.

        The sandbox sends a bare head first (``200``, no content type, a body promised
        and never sent), in process as over HTTP: a served app cannot close a connection
        before its head.
        """
        return cls(
            disconnect=True, act=after_acting, kind="drop-after" if after_acting else "drop"
        )

    @classmethod
    def truncated(cls) -> Fault:
        """Carry the request out, then send half its answer: JSON cut in half, or a
        download broken off midway (a retry asking for the rest with ``Range`` gets it)."""
        return cls(truncate=True, act=True, kind="truncated")


FAULT_KINDS: Mapping[str, Fault] = MappingProxyType(
    {
        "500": Fault.error(500),
        "502": Fault.error(502),
        "503": Fault.error(503),
        "429": Fault.rate_limited(0),
        "html": Fault.html(),
        "drop": Fault.drop(),
        "drop-after": Fault.drop(after_acting=True),
        "slow": Fault.slow(1.0),
        "drip": Fault.drip(1.0),
        "truncated": Fault.truncated(),
    }
)
"""The named faults that ``Faults.random(kinds=...)`` picks from, by name.

``"500"``, ``"502"``, ``"503"``: an error answer, the server did not act. ``"429"``:
rate limited with ``Retry-After: 0``. ``"html"``: a proxy's HTML error page. ``"drop"``
and ``"drop-after"``: the connection closed before or after the server acted. ``"slow"``:
acted, answered after a delay. ``"drip"``: acted, the JSON answer trickled out. ``"truncated"``:
acted, half of the answer sent (JSON cut short, a download broken off). Read-only.
"""


class Faults:
    """The sandbox's fault injection: scripted answers per path, and random faults.

    Examples:
        >>> sandbox.faults.script("/call-otp", Fault.error(503), Fault.drop())
        >>> sandbox.faults.random(0.2, seed=7)
    """

    def __init__(self) -> None:
        self._scripts: dict[str, deque[Fault]] = {}
        self._rate = 0.0
        self._rng = random.Random(0)
        self._kinds: list[Fault] = []
        self._paths: frozenset[str] | None = None

    def script(self, path: str, *faults: Fault) -> None:
        """Queue ``faults`` for the next requests to ``path`` (e.g. ``"/call-otp"``).

        Paths are relative to the API base; a recording path may end in ``*``
        (``"/call-recordings/*"``) to match every id.
        """
        self._scripts.setdefault(path, deque()).extend(faults)

    def random(
        self,
        rate: float,
        *,
        seed: int = 0,
        kinds: Iterable[str | Fault] | None = None,
        paths: Iterable[str] | None = None,
        slow_seconds: float | None = None,
    ) -> None:
        """Give a fraction ``rate`` of requests a random fault.

        Args:
            rate: From 0 (off) to 1.
            seed: Seeds the choice of which requests fail and how.
            kinds: Names from ``FAULT_KINDS`` or [`Fault`][voipano_async.testing.Fault]
                objects (default: all).
            paths: Only these paths (default: every path).
            slow_seconds: The delay of the ``"slow"`` kind and the length of the ``"drip"``
                kind (default 1 s).
        """
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        chosen = list(kinds) if kinds is not None else list(FAULT_KINDS)
        faults = [FAULT_KINDS[k] if isinstance(k, str) else k for k in chosen]
        if slow_seconds is not None:
            faults = [
                attrs.evolve(f, delay=slow_seconds)
                if f.kind == "slow"
                else attrs.evolve(f, drip_seconds=slow_seconds)
                if f.kind == "drip"
                else f
                for f in faults
            ]
        self._rate = rate
        self._rng = random.Random(seed)
        self._kinds = faults
        self._paths = frozenset(paths) if paths is not None else None

    def clear(self) -> None:
        """Forget every scripted and random fault."""
        self._scripts.clear()
        self._rate = 0.0

    def pending(self, path: str) -> int:
        """How many scripted faults are still queued for ``path``."""
        return len(self._scripts.get(path, ()))

    def next_for(self, path: str) -> Fault | None:
        """Take the fault for the request to ``path`` now arriving, or ``None``.

        A fault scripted for the path (or its ``/*`` pattern) comes first, in the order
        scripted; otherwise a random one, at the configured rate, for the chosen paths.
        """
        for key in (path, _wild(path)):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
        chosen = self._paths is None or path in self._paths or _wild(path) in self._paths
        if self._rate and chosen and self._rng.random() < self._rate:
            return self._rng.choice(self._kinds)
        return None


def _wild(path: str) -> str:
    return path.rsplit("/", 1)[0] + "/*"
