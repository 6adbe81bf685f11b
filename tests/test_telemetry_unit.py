"""The telemetry recorder on its own: what one call's record puts in spans and metrics."""

from __future__ import annotations

import json
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

import voipano_async._telemetry as telemetry_module
from voipano_async import APITimeoutError, ServerError, __version__
from voipano_async._telemetry import NO_RECORD, Telemetry

from .conftest import NO_OTEL_PRELUDE, TOKEN, run_python
from .otel import Otel, in_memory, scrub

PHONE = "09123456789"


otel = pytest.fixture(in_memory, name="otel")


def recorded(span: ReadableSpan) -> str:
    """Every text the span carries: name, status, attributes, and its events' attributes."""
    texts = [span.name, span.status.description or ""]
    for attributes in [span.attributes, *(event.attributes for event in span.events)]:
        texts.extend(str(value) for value in (attributes or {}).values())
    return "\n".join(texts)


def labels(**attributes: Any) -> frozenset[tuple[str, Any]]:
    return frozenset((f"voipano.{key}", value) for key, value in attributes.items())


def failure() -> APITimeoutError:
    """A raised error whose message, cause and source lines hold a number and the token."""
    try:
        try:
            raise OSError("connect failed; Authorization: Bearer test-token-5f2b9c1e8d")
        except OSError as cause:
            raise APITimeoutError(
                "no answer to 09123456789 (token test-token-5f2b9c1e8d)",
                may_have_been_placed=True,
            ) from cause
    except APITimeoutError as error:
        return error


def test_a_call_is_one_client_span_under_the_callers_span(otel: Otel) -> None:
    telemetry = otel.telemetry()
    with otel.tracer_provider.get_tracer("app").start_as_current_span("handler") as parent:
        record = telemetry.start("call_otp", "/call-otp")
        record.end(attempts=1, status_code=200, charged=160)

    [span, handler] = otel.finished()
    assert span.name == "voipano.call_otp"
    assert span.kind is SpanKind.CLIENT
    assert span.parent is not None
    assert span.parent.span_id == parent.get_span_context().span_id
    assert span.context is not None
    assert span.context.trace_id == handler.context.trace_id  # type: ignore[union-attr]
    assert span.status.status_code is StatusCode.UNSET
    assert span.events == ()
    assert dict(span.attributes or {}) == {
        "voipano.endpoint": "/call-otp",
        "server.address": "voipano.com",
        "server.port": 443,
        "voipano.attempts": 1,
        "http.response.status_code": 200,
        "voipano.charged": 160,
    }
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "voipano_async"
    assert span.instrumentation_scope.version == __version__


def test_what_is_not_known_is_left_out(otel: Otel) -> None:
    record = otel.telemetry(server_port=None).start("services", "/services")
    record.end(attempts=2)  # no status, no charge: neither is recorded

    [span] = otel.finished()
    assert span.parent is None
    assert dict(span.attributes or {}) == {
        "voipano.endpoint": "/services",
        "server.address": "voipano.com",
        "voipano.attempts": 2,
    }


def test_retries_are_span_events_and_counted_by_reason(otel: Otel) -> None:
    telemetry = otel.telemetry()
    record = telemetry.start("call_reports_page", "/call-reports")
    record.retry(reason="HTTP 503", wait=0.5, attempt=1)
    record.retry(reason="connection failed", wait=1.25, attempt=2)
    record.end(attempts=3, status_code=200, charged=0)
    other = telemetry.start("services", "/services")
    other.retry(reason="HTTP 503", wait=0.25, attempt=1)
    other.end(attempts=2, status_code=200)

    span = next(s for s in otel.finished() if s.name == "voipano.call_reports_page")
    assert [(event.name, dict(event.attributes or {})) for event in span.events] == [
        (
            "retry",
            {
                "voipano.retry.reason": "HTTP 503",
                "voipano.retry.wait": 0.5,
                "voipano.retry.attempt": 1,
            },
        ),
        (
            "retry",
            {
                "voipano.retry.reason": "connection failed",
                "voipano.retry.wait": 1.25,
                "voipano.retry.attempt": 2,
            },
        ),
    ]
    retries = otel.points("voipano.retries")
    assert {key: point.value for key, point in retries.items()} == {
        labels(**{"retry.reason": "HTTP 503"}): 2,
        labels(**{"retry.reason": "connection failed"}): 1,
    }


def test_a_failure_sets_the_error_and_records_it_masked(otel: Otel) -> None:
    error = failure()
    error.attempts = 3
    record = otel.telemetry().start("call_otp", "/call-otp")
    record.fail(error)

    [span] = otel.finished()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "APITimeoutError"
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "APITimeoutError"
    assert attributes["voipano.may_have_been_placed"] is True
    assert attributes["voipano.attempts"] == 3
    assert "http.response.status_code" not in attributes
    [event] = span.events
    assert event.name == "exception"
    exception = dict(event.attributes or {})
    assert exception["exception.type"] == "voipano_async.APITimeoutError"
    message = str(exception["exception.message"])
    assert message.startswith("no answer to 09123***789 (token ***)")
    stack = str(exception["exception.stacktrace"])
    assert stack.startswith("Traceback (most recent call last):")
    assert "OSError: connect failed; Authorization: Bearer ***" in stack
    assert "The above exception was the direct cause" in stack
    assert 'raise OSError("connect failed; Authorization: Bearer ***")' in stack
    assert "voipano_async.APITimeoutError: no answer to 09123***789" in stack
    # Nowhere in what was recorded: not the span, not its events, not a metric.
    data = otel.reader.get_metrics_data()
    assert data is not None
    for text in (recorded(span), data.to_json()):
        assert PHONE not in text
        assert TOKEN not in text


def test_a_builtin_error_is_named_without_its_module(otel: Otel) -> None:
    record = otel.telemetry().start("services", "/services")
    record.fail(ValueError(f"bad {PHONE}"))

    [span] = otel.finished()
    [event] = span.events
    assert dict(event.attributes or {})["exception.type"] == "ValueError"
    assert dict(event.attributes or {})["exception.message"] == "bad 09123***789"
    assert "voipano.may_have_been_placed" not in dict(span.attributes or {})


def test_an_error_that_cannot_be_shown_is_still_recorded(otel: Otel) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    record = otel.telemetry().start("services", "/services")
    record.fail(Unprintable())

    [span] = otel.finished()
    [event] = span.events
    assert dict(event.attributes or {})["exception.message"] == "<Unprintable: str() failed>"
    assert span.status.description == "Unprintable"


def test_fail_reads_attempts_status_and_placement_off_the_error(otel: Otel) -> None:
    error = ServerError("down", status_code=503, may_have_been_placed=True)
    error.attempts = 4
    otel.telemetry().start("secure_call", "/secure-call").fail(error)

    [span] = otel.finished()
    attributes = dict(span.attributes or {})
    assert attributes["voipano.attempts"] == 4
    assert attributes["http.response.status_code"] == 503
    assert attributes["voipano.may_have_been_placed"] is True
    assert attributes["error.type"] == "ServerError"


def test_the_metrics_count_time_and_add_up_credit(
    otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter([10.0, 10.25, 20.0, 20.5, 30.0, 31.0, 40.0, 40.125])
    monkeypatch.setattr(telemetry_module.time, "perf_counter", lambda: next(clock))
    telemetry = otel.telemetry()
    telemetry.start("call_otp", "/call-otp").end(attempts=1, status_code=200, charged=160)
    telemetry.start("call_otp", "/call-otp").end(attempts=1, status_code=200, charged=160)
    telemetry.start("call_otp", "/call-otp").fail(failure())
    telemetry.start("services", "/services").end(attempts=1, status_code=200, charged=0)

    found = otel.metrics()
    assert {name: metric.unit for name, metric in found.items()} == {
        "voipano.requests": "{request}",
        "voipano.request.duration": "s",
        "voipano.credit.charged": "{credit}",
    }
    requests = otel.points("voipano.requests")
    assert {key: point.value for key, point in requests.items()} == {
        labels(endpoint="/call-otp", outcome="ok"): 2,
        labels(endpoint="/call-otp", outcome="APITimeoutError"): 1,
        labels(endpoint="/services", outcome="ok"): 1,
    }
    durations = otel.points("voipano.request.duration")
    assert {key: (point.count, point.sum) for key, point in durations.items()} == {
        labels(endpoint="/call-otp", outcome="ok"): (2, 0.75),
        labels(endpoint="/call-otp", outcome="APITimeoutError"): (1, 1.0),
        labels(endpoint="/services", outcome="ok"): (1, 0.125),
    }
    # Buckets in seconds, not the SDK's default millisecond ones.
    for point in durations.values():
        assert tuple(point.explicit_bounds) == telemetry_module._DURATION_BUCKETS
    charged = otel.points("voipano.credit.charged")
    assert {key: point.value for key, point in charged.items()} == {
        labels(endpoint="/call-otp"): 320,
    }


def test_end_twice_records_once(otel: Otel) -> None:
    record = otel.telemetry().start("call_otp", "/call-otp")
    record.end(attempts=1, status_code=200, charged=160)
    record.end(attempts=5, status_code=500, charged=160)
    record.fail(failure())

    [span] = otel.finished()
    assert dict(span.attributes or {})["voipano.attempts"] == 1
    assert span.status.status_code is StatusCode.UNSET
    [point] = otel.points("voipano.requests").values()
    assert point.value == 1
    [point] = otel.points("voipano.credit.charged").values()
    assert point.value == 160


def test_use_makes_the_span_current_and_leaves_errors_to_end(otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("httpx-instrumentation")
    record = otel.telemetry().start("services", "/services")
    before = trace.get_current_span()

    def send() -> None:
        with record.use():
            with tracer.start_as_current_span("HTTP GET"):
                assert trace.get_current_span() is not before
            raise failure()

    with pytest.raises(APITimeoutError):
        send()
    assert trace.get_current_span() is before
    record.end(attempts=1)

    http, call = otel.finished()
    assert http.parent is not None
    assert call.context is not None
    assert http.parent.span_id == call.context.span_id
    # The exception that left use() was not recorded raw: end() had no error.
    assert call.events == ()
    assert call.status.status_code is StatusCode.UNSET


@pytest.mark.anyio
async def test_use_keeps_concurrent_calls_apart(otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("httpx-instrumentation")
    telemetry = otel.telemetry()

    async def call(operation: str) -> None:
        record = telemetry.start(operation, f"/{operation}")
        with record.use():
            await anyio.lowlevel.checkpoint()
            async with anyio.create_task_group() as group:
                # A task started inside use() inherits the call's context.
                group.start_soon(http_request, f"HTTP {operation}")
            await anyio.lowlevel.checkpoint()
        record.end(attempts=1, status_code=200)

    async def http_request(name: str) -> None:
        with tracer.start_as_current_span(name):
            await anyio.lowlevel.checkpoint()

    with tracer.start_as_current_span("handler"):
        async with anyio.create_task_group() as group:
            group.start_soon(call, "one")
            group.start_soon(call, "two")
        assert trace.get_current_span().name == "handler"  # type: ignore[attr-defined]

    spans = {span.name: span for span in otel.finished()}
    for operation in ("one", "two"):
        http, voipano = spans[f"HTTP {operation}"], spans[f"voipano.{operation}"]
        assert http.parent is not None
        assert http.parent.span_id == voipano.context.span_id  # type: ignore[union-attr]
        assert voipano.parent is not None
        assert voipano.parent.span_id == spans["handler"].context.span_id  # type: ignore[union-attr]


def test_a_span_not_sampled_costs_no_cleaning_but_is_counted(otel: Otel) -> None:
    cleaned: list[str] = []

    def scrub_and_note(text: str) -> str:
        cleaned.append(text)
        return scrub(text)

    tracer_provider = TracerProvider(sampler=ALWAYS_OFF)
    tracer_provider.add_span_processor(SimpleSpanProcessor(otel.spans))
    telemetry = Telemetry(
        tracer_provider,
        otel.meter_provider,
        server_address="voipano.com",
        server_port=None,
        scrub=scrub_and_note,
    )
    record = telemetry.start("call_otp", "/call-otp")
    with record.use():
        assert trace.get_current_span().get_span_context().is_valid
    record.retry(reason="HTTP 429", wait=1.0, attempt=1)
    record.fail(failure())

    assert otel.finished() == []
    assert cleaned == []
    assert [p.value for p in otel.points("voipano.requests").values()] == [1]
    assert [p.value for p in otel.points("voipano.retries").values()] == [1]


def test_none_means_the_global_providers_as_they_are_at_the_first_call(
    otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    telemetry = Telemetry(server_address="voipano.com", server_port=None)
    # Set after the client was made (trace.set_tracer_provider can run once a process).
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: otel.tracer_provider)
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: otel.meter_provider)
    assert telemetry.enabled is True
    telemetry.start("services", "/services").end(attempts=1, status_code=200)

    assert [span.name for span in otel.finished()] == ["voipano.services"]
    assert list(otel.points("voipano.requests")) == [labels(endpoint="/services", outcome="ok")]


def test_while_no_global_provider_is_set_a_call_records_nothing(
    otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)  # unset, whatever ran before
    telemetry = Telemetry(server_address="voipano.com", server_port=None)
    assert telemetry.start("services", "/services") is NO_RECORD
    assert telemetry.enabled is True

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", otel.tracer_provider)  # set_tracer_provider
    record = telemetry.start("services", "/services")
    assert record is not NO_RECORD
    record.end(attempts=1)
    assert [span.name for span in otel.finished()] == ["voipano.services"]


def run(script: str) -> dict[str, Any]:
    return dict(json.loads(run_python(script)))


def test_without_opentelemetry_nothing_of_it_is_imported_and_nothing_happens() -> None:
    found = run(
        NO_OTEL_PRELUDE
        + """
import json
from voipano_async._telemetry import NO_RECORD, Telemetry

telemetry = Telemetry(object(), object(), server_address="voipano.com", server_port=None)
record = telemetry.start("call_otp", "/call-otp")
with record.use():
    record.retry(reason="HTTP 503", wait=0.5, attempt=1)
record.end(attempts=2, status_code=200, charged=160)
record.fail(ValueError("x"))
print(json.dumps({
    "no_record": record is NO_RECORD,
    "again": telemetry.start("services", "/services") is NO_RECORD,
    "enabled": telemetry.enabled,
    "imported": [m for m in sys.modules if m.startswith("opentelemetry")],
}))
"""
    )
    assert found == {"no_record": True, "again": True, "enabled": False, "imported": []}


def test_opentelemetry_is_imported_at_the_first_call_not_before() -> None:
    found = run(
        """
import json, sys
import voipano_async
from voipano_async._telemetry import Telemetry

telemetry = Telemetry(server_address="voipano.com", server_port=None)
before = [m for m in sys.modules if m.startswith("opentelemetry")]
telemetry.start("services", "/services").end(attempts=1)
print(json.dumps({"before": before, "after": "opentelemetry.trace" in sys.modules}))
"""
    )
    assert found == {"before": [], "after": True}


@pytest.mark.parametrize(
    "number", ["09123456789", "+989123456789", "00989123456789", "۰۹۱۲۳۴۵۶۷۸۹"]
)
def test_no_form_of_a_phone_number_is_recorded(otel: Otel, number: str) -> None:
    record = otel.telemetry().start("call_otp", "/call-otp")
    record.fail(ValueError(f"{number} did not answer"))

    [span] = otel.finished()
    assert number not in recorded(span)
