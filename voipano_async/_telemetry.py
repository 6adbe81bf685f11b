"""OpenTelemetry: one span per public call, and the SDK's metrics; nothing without the API.

``opentelemetry-api`` is optional (the ``otel`` extra). This module imports none of it at
import time; the first call looks for it, and without it every record is the shared no-op
``NO_RECORD``. With it, a call opens a CLIENT span ``voipano.<operation>`` (child of the
caller's current span) and, when it ends, adds to four instruments. Text that could hold
the token or a phone number (an exception's message and stack) is scrubbed and masked
before it is recorded.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from ._phone import mask_phone_numbers

__all__ = ["NO_RECORD", "CallRecord", "Telemetry"]

logger = logging.getLogger("voipano_async")

_SCOPE = "voipano_async"
# Seconds (the SDK's default buckets are for ms): the HTTP client's, widened for retries.
_DURATION_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5)
_DURATION_BUCKETS += (0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0, 60.0)


class CallRecord:
    """One call's span and measurements; this base class records nothing (``NO_RECORD``)."""

    __slots__ = ()

    def use(self) -> contextlib.AbstractContextManager[None]:
        """Make the call's span the current one, so HTTP-level spans nest under it."""
        return _NULL

    def retry(self, *, reason: str, wait: float, attempt: int) -> None:
        """Attempt number ``attempt`` failed for ``reason``; the next comes in ``wait`` s."""

    def drift(self, notes: list[str]) -> None:
        """The answer drifted from its published shape; ``notes`` say how it was read."""

    def end(
        self, *, attempts: int, status_code: int | None = None, charged: int | None = None
    ) -> None:
        """End a call that succeeded (once; a second end, or a ``fail``, does nothing)."""

    def fail(self, error: BaseException) -> None:
        """End the call with ``error``, reading attempts, status and placement off it."""


_NULL = contextlib.nullcontext()
NO_RECORD = CallRecord()


class _Instruments:
    def __init__(self, meter: Any) -> None:
        counter = meter.create_counter
        self.requests = counter("voipano.requests", unit="{request}", description="Calls made")
        self.charged = counter("voipano.credit.charged", unit="{credit}", description="Credit")
        self.retries = counter("voipano.retries", unit="{retry}", description="Retries")
        self.drift = counter(
            "voipano.drift", unit="{value}", description="Values read though they drifted"
        )
        duration = {"unit": "s", "description": "Wall time of a call, retries included"}
        self.duration = meter.create_histogram(
            "voipano.request.duration",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            **duration,
        )


class Telemetry:
    """What a client records; ``None`` providers mean OpenTelemetry's global ones."""

    def __init__(
        self,
        tracer_provider: Any | None = None,
        meter_provider: Any | None = None,
        *,
        server_address: str,
        server_port: int | None,
        scrub: Callable[[str], str] | None = None,
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._server: dict[str, str | int] = {"server.address": server_address}
        if server_port is not None:
            self._server["server.port"] = server_port
        self._scrub = scrub
        self._enabled: bool | None = None  # unknown until the first call
        self._api: Any = None  # the opentelemetry.trace module, once found
        self._tracer: Any = None
        self._instruments: _Instruments | None = None
        self._idle: tuple[tuple[type, ...], tuple[type, ...]] | None = None  # see _load
        self._metrics: Any = None  # the opentelemetry.metrics module, with _idle
        self._failures = 0

    @property
    def enabled(self) -> bool:
        """Whether ``opentelemetry-api`` is importable (looked for now, if not yet)."""
        return self._load() if self._enabled is None else self._enabled

    def _load(self) -> bool:
        # Imported by name: the package type-checks with and without OpenTelemetry.
        try:
            trace = importlib.import_module("opentelemetry.trace")
            metrics = importlib.import_module("opentelemetry.metrics")
        except ImportError:
            self._enabled = False
            return False
        from ._version import __version__

        tracer_provider = self._tracer_provider
        meter_provider = self._meter_provider
        if tracer_provider is None and meter_provider is None:
            # The providers that record nothing: an unset global's proxy, or no-op. While
            # both globals are such, a call would record nothing, not even a parent (the
            # no-op tracer hands back the current span), so ``start`` skips it, asking on
            # every call. The meter proxy's class is private: looked for, not assumed.
            proxy = getattr(getattr(metrics, "_internal", None), "_ProxyMeterProvider", None)
            meters = (metrics.NoOpMeterProvider, *([proxy] if proxy else []))
            self._idle = ((trace.ProxyTracerProvider, trace.NoOpTracerProvider), meters)
            self._metrics = metrics
        # An unset global is a proxy whose tracer and meter follow a provider set later.
        if tracer_provider is None:
            tracer_provider = trace.get_tracer_provider()
        if meter_provider is None:
            meter_provider = metrics.get_meter_provider()
        self._tracer = tracer_provider.get_tracer(_SCOPE, __version__)
        self._instruments = _Instruments(meter_provider.get_meter(_SCOPE, __version__))
        self._api = trace
        self._enabled = True
        return True

    def start(self, operation: str, endpoint: str) -> CallRecord:
        """Begin one public call, e.g. ``start("call_otp", "/call-otp")``.

        Telemetry never changes a call's outcome: a provider, processor or instrument
        that raises is logged once and the call goes on unrecorded.
        """
        if self._enabled is False:
            return NO_RECORD
        try:
            if self._enabled is None and not self._load():
                return NO_RECORD
            if self._idle is not None:
                tracers, meters = self._idle
                if isinstance(self._api.get_tracer_provider(), tracers) and isinstance(
                    self._metrics.get_meter_provider(), meters
                ):
                    return NO_RECORD
            return _Recording(self, operation, endpoint)
        except Exception as exc:
            self.failed(exc)
            return NO_RECORD

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Run OpenTelemetry's part of a call: whatever it raises is logged once, not raised."""
        try:
            yield
        except Exception as exc:
            self.failed(exc)

    def failed(self, exc: Exception) -> None:
        """Log the first failure of OpenTelemetry in this client (the next ones are not)."""
        if self._failures == 0:
            logger.warning(
                "OpenTelemetry failed (%s: %s): the call goes on unrecorded; later failures "
                "of this client's telemetry are not logged",
                type(exc).__name__,
                self.clean(str(exc)),
            )
        self._failures += 1

    def clean(self, text: str) -> str:
        """``text`` with the token scrubbed and phone numbers masked."""
        if self._scrub is not None:
            text = self._scrub(text)
        return mask_phone_numbers(text)


class _Recording(CallRecord):
    __slots__ = ("_ended", "_endpoint", "_span", "_started", "_telemetry")

    def __init__(self, telemetry: Telemetry, operation: str, endpoint: str) -> None:
        self._telemetry = telemetry
        self._endpoint = endpoint
        self._span = telemetry._tracer.start_span(
            f"voipano.{operation}",
            kind=telemetry._api.SpanKind.CLIENT,
            attributes={"voipano.endpoint": endpoint, **telemetry._server},
        )
        self._started = time.perf_counter()
        self._ended = False

    @contextlib.contextmanager
    def use(self) -> Iterator[None]:
        # Not OpenTelemetry's own exception recording: it would keep the raw message.
        used = None
        with self._telemetry.guard():
            used = self._telemetry._api.use_span(
                self._span,
                end_on_exit=False,
                record_exception=False,
                set_status_on_exception=False,
            )
            used.__enter__()
        try:
            yield
        finally:
            if used is not None:
                with self._telemetry.guard():
                    used.__exit__(None, None, None)

    def retry(self, *, reason: str, wait: float, attempt: int) -> None:
        with self._telemetry.guard():
            if self._span.is_recording():
                waits = {"voipano.retry.wait": wait, "voipano.retry.attempt": attempt}
                self._span.add_event("retry", {"voipano.retry.reason": reason, **waits})
            assert self._telemetry._instruments is not None
            self._telemetry._instruments.retries.add(1, {"voipano.retry.reason": reason})

    def drift(self, notes: list[str]) -> None:
        with self._telemetry.guard():
            if self._span.is_recording():
                self._span.add_event("voipano.drift", {"voipano.drift.notes": notes})
            assert self._telemetry._instruments is not None
            endpoint = {"voipano.endpoint": self._endpoint}
            self._telemetry._instruments.drift.add(len(notes), endpoint)

    def end(
        self, *, attempts: int, status_code: int | None = None, charged: int | None = None
    ) -> None:
        self._finish(attempts, status_code, charged, None)

    def fail(self, error: BaseException) -> None:
        attempts, status_code = getattr(error, "attempts", 0), getattr(error, "status_code", None)
        self._finish(attempts, status_code, None, error)

    def _finish(
        self,
        attempts: int,
        status_code: int | None,
        charged: int | None,
        error: BaseException | None,
    ) -> None:
        if self._ended:
            return
        self._ended = True
        elapsed = time.perf_counter() - self._started
        with self._telemetry.guard():
            span = self._span
            if span.is_recording():
                span.set_attribute("voipano.attempts", attempts)
                if status_code is not None:
                    span.set_attribute("http.response.status_code", status_code)
                if charged is not None:
                    span.set_attribute("voipano.charged", charged)
                if error is not None:
                    self._record_error(error)
            span.end()
            instruments = self._telemetry._instruments
            assert instruments is not None
            outcome = "ok" if error is None else type(error).__name__
            labels = {"voipano.endpoint": self._endpoint, "voipano.outcome": outcome}
            instruments.requests.add(1, labels)
            instruments.duration.record(elapsed, labels)
            if charged is not None and charged > 0:
                instruments.charged.add(charged, {"voipano.endpoint": self._endpoint})

    def _record_error(self, error: BaseException) -> None:
        import traceback  # only a failed call needs it

        span = self._span
        kind = type(error)
        may_have_been_placed = getattr(error, "may_have_been_placed", None)
        if may_have_been_placed is not None:
            span.set_attribute("voipano.may_have_been_placed", may_have_been_placed)
        span.set_attribute("error.type", kind.__name__)
        try:
            message = str(error)
        except Exception:  # a broken __str__ must not replace the caller's error
            message = f"<{kind.__name__}: str() failed>"
        clean = self._telemetry.clean
        qualified = f"{kind.__module__}.{kind.__qualname__}".removeprefix("builtins.")
        # The event OpenTelemetry's record_exception makes, from the cleaned text.
        span.add_event(
            "exception",
            {
                "exception.type": qualified,
                "exception.message": clean(message),
                "exception.stacktrace": clean("".join(traceback.format_exception(error))),
            },
        )
        api = self._telemetry._api
        span.set_status(api.Status(api.StatusCode.ERROR, kind.__name__))
