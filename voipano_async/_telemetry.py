"""OpenTelemetry: one span per public call, and the SDK's metrics; nothing without the API.

``opentelemetry-api`` is optional (the ``otel`` extra). This module imports none of it at
import time; the first call looks for it, and without it every record is the shared no-op
``NO_RECORD``. With it, a call opens a CLIENT span ``voipano.<method>`` (child of the
caller's current span) and, when it ends, adds to four instruments. Text that could hold
the token or a phone number (an exception's message and stack) is scrubbed and masked
before it is recorded.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from ._phone import mask_phone_numbers

__all__ = ["NO_RECORD", "CallRecord", "Telemetry"]

_SCOPE = "voipano_async"


class CallRecord:
    """One call's span and measurements; this base class records nothing (``NO_RECORD``)."""

    __slots__ = ()

    def use(self) -> contextlib.AbstractContextManager[None]:
        """Make the call's span the current one, so HTTP-level spans nest under it."""
        return _NULL

    def retry(self, *, reason: str, wait: float, attempt: int) -> None:
        """Attempt number ``attempt`` failed for ``reason``; the next comes in ``wait`` s."""

    def end(
        self,
        *,
        attempts: int,
        status_code: int | None = None,
        charged: int | None = None,
        error: BaseException | None = None,
        may_have_been_placed: bool | None = None,
    ) -> None:
        """End the call (once; a second end does nothing)."""

    def fail(self, error: BaseException) -> None:
        """End the call with ``error``, reading attempts, status and placement off it."""
        self.end(
            attempts=getattr(error, "attempts", 0),
            status_code=getattr(error, "status_code", None),
            error=error,
            may_have_been_placed=getattr(error, "may_have_been_placed", None),
        )


_NULL = contextlib.nullcontext()
NO_RECORD = CallRecord()


class _Instruments:
    def __init__(self, meter: Any) -> None:
        self.requests = meter.create_counter(
            "voipano.requests", unit="{request}", description="Calls made, by outcome"
        )
        self.duration = meter.create_histogram(
            "voipano.request.duration", unit="s", description="Wall time of a call"
        )
        self.charged = meter.create_counter(
            "voipano.credit.charged", unit="{credit}", description="Credit charged"
        )
        self.retries = meter.create_counter(
            "voipano.retries", unit="{retry}", description="Attempts retried, by reason"
        )


class Telemetry:
    """What a client records; ``None`` providers mean OpenTelemetry's global ones."""

    def __init__(
        self,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        *,
        server_address: str,
        server_port: int | None,
        scrub: Callable[[str], str] | None = None,
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._server = {"server.address": server_address}
        if server_port is not None:
            self._server["server.port"] = server_port  # type: ignore[assignment]
        self._scrub = scrub
        self._api: Any = None  # the opentelemetry.trace module, once looked for
        self.enabled: bool | None = None  # unknown until the first call
        self._tracer: Any = None
        self._instruments: _Instruments | None = None
        # With both providers left to OpenTelemetry's globals: the types that mean "none
        # set yet" (or set to no-op). While both globals are such, a call records nothing
        # at all, so it skips the span and the instruments (see ``start``).
        self._idle: tuple[tuple[type, ...], tuple[type, ...]] | None = None
        self._metrics: Any = None  # the opentelemetry.metrics module, with the above

    def _load(self) -> bool:
        try:
            from opentelemetry import metrics, trace
        except ImportError:
            self.enabled = False
            return False
        self._api = trace
        tracer_provider = self._tracer_provider or trace.get_tracer_provider()
        meter_provider = self._meter_provider or metrics.get_meter_provider()
        from ._version import __version__

        self._tracer = tracer_provider.get_tracer(_SCOPE, __version__)
        self._instruments = _Instruments(meter_provider.get_meter(_SCOPE, __version__))
        if self._tracer_provider is None and self._meter_provider is None:
            self._idle = (_idle_tracer_providers(trace), _idle_meter_providers(metrics))
            self._metrics = metrics
        self.enabled = True
        return True

    def _globals_idle(self) -> bool:
        """Whether neither global provider is set: nothing would be recorded, even a parent.

        OpenTelemetry's no-op tracer hands back the caller's current span as the "new" one,
        so making it current changes nothing either: skipping the call's record is exact.
        Asked on every call, as a provider may be set at any time.
        """
        assert self._idle is not None
        tracers, meters = self._idle
        return isinstance(self._api.get_tracer_provider(), tracers) and isinstance(
            self._metrics.get_meter_provider(), meters
        )

    def start(self, operation: str, endpoint: str) -> CallRecord:
        """Begin one public call, e.g. ``start("call_otp", "/call-otp")``."""
        if not self.enabled and (self.enabled is False or not self._load()):
            return NO_RECORD
        if self._idle is not None and self._globals_idle():
            return NO_RECORD
        return _Recording(self, operation, endpoint)

    def clean(self, text: str) -> str:
        """``text`` with the token scrubbed and phone numbers masked."""
        if self._scrub is not None:
            text = self._scrub(text)
        return mask_phone_numbers(text)


def _idle_tracer_providers(trace: Any) -> tuple[type, ...]:
    """The tracer provider types that record nothing: the proxy of an unset global, no-op."""
    return (trace.ProxyTracerProvider, trace.NoOpTracerProvider)


def _idle_meter_providers(metrics: Any) -> tuple[type, ...]:
    """The same for meters; the proxy's class is private, so it is looked for, not assumed."""
    try:
        from opentelemetry.metrics._internal import _ProxyMeterProvider
    except ImportError:  # pragma: no cover - a later API without it: only no-op is idle
        return (metrics.NoOpMeterProvider,)
    return (_ProxyMeterProvider, metrics.NoOpMeterProvider)


class _Recording(CallRecord):
    __slots__ = ("_ended", "_endpoint", "_span", "_started", "_telemetry")

    def __init__(self, telemetry: Telemetry, operation: str, endpoint: str) -> None:
        self._telemetry = telemetry
        self._endpoint = endpoint
        api = telemetry._api
        self._span = telemetry._tracer.start_span(
            f"voipano.{operation}",
            kind=api.SpanKind.CLIENT,
            attributes={"voipano.endpoint": endpoint, **telemetry._server},
        )
        self._started = time.perf_counter()
        self._ended = False

    @contextlib.contextmanager
    def _current(self) -> Iterator[None]:
        # Not OpenTelemetry's own exception recording: it would keep the raw message.
        use = self._telemetry._api.use_span
        with use(
            self._span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        ):
            yield

    def use(self) -> contextlib.AbstractContextManager[None]:
        return self._current()

    def retry(self, *, reason: str, wait: float, attempt: int) -> None:
        attributes = {
            "voipano.retry.reason": reason,
            "voipano.retry.wait": wait,
            "voipano.retry.attempt": attempt,
        }
        self._span.add_event("retry", attributes)
        instruments = self._telemetry._instruments
        assert instruments is not None
        instruments.retries.add(1, {"voipano.retry.reason": reason})

    def end(
        self,
        *,
        attempts: int,
        status_code: int | None = None,
        charged: int | None = None,
        error: BaseException | None = None,
        may_have_been_placed: bool | None = None,
    ) -> None:
        if self._ended:
            return
        self._ended = True
        span = self._span
        outcome = "ok" if error is None else type(error).__name__
        if span.is_recording():
            span.set_attribute("voipano.attempts", attempts)
            if status_code:
                span.set_attribute("http.response.status_code", status_code)
            if charged is not None:
                span.set_attribute("voipano.charged", charged)
            if error is not None:
                self._record_error(error, may_have_been_placed)
        span.end()
        instruments = self._telemetry._instruments
        assert instruments is not None
        labels = {"voipano.endpoint": self._endpoint, "voipano.outcome": outcome}
        instruments.requests.add(1, labels)
        instruments.duration.record(time.perf_counter() - self._started, labels)
        if charged:
            instruments.charged.add(charged, {"voipano.endpoint": self._endpoint})

    def _record_error(self, error: BaseException, may_have_been_placed: bool | None) -> None:
        import traceback  # only a failed call needs it

        span = self._span
        clean = self._telemetry.clean
        name = type(error).__name__
        if may_have_been_placed is not None:
            span.set_attribute("voipano.may_have_been_placed", may_have_been_placed)
        span.set_attribute("error.type", name)
        span.add_event(
            "exception",
            {
                "exception.type": f"{type(error).__module__}.{type(error).__qualname__}",
                "exception.message": clean(str(error)),
                "exception.stacktrace": clean("".join(traceback.format_exception(error))),
            },
        )
        status = self._telemetry._api.Status(self._telemetry._api.StatusCode.ERROR, name)
        span.set_status(status)
