"""OpenTelemetry through the client: one span per call, the metrics, and nothing secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import respx
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from voipano_async import (
    APIConnectionError,
    AsyncVoipano,
    InvalidPhoneNumberError,
    ServerError,
    Voipano,
)

from . import samples
from .conftest import FAST, NO_OTEL_PRELUDE, TOKEN, run_python
from .otel import Otel, in_memory

pytestmark = pytest.mark.anyio

PHONE = "09123456789"


otel = pytest.fixture(in_memory, name="otel")


@pytest.fixture
async def traced(api: respx.MockRouter, otel: Otel) -> Any:
    async with AsyncVoipano(
        TOKEN,
        retry=FAST,
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
    ) as client:
        yield client


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    [span] = [s for s in spans if s.name == name]
    return span


async def test_a_call_is_one_client_span_under_the_callers_span(
    api: respx.MockRouter, otel: Otel, traced: AsyncVoipano
) -> None:
    api.post("/call-otp").respond(200, json=samples.CALL_OTP)
    tracer = otel.tracer_provider.get_tracer("app")

    with tracer.start_as_current_span("POST /login"):
        await traced.call_otp(PHONE, purpose="login")

    spans = otel.finished()
    login = one(spans, "POST /login")
    call = one(spans, "voipano.call_otp")
    assert call.kind is SpanKind.CLIENT
    assert call.parent is not None
    assert call.parent.span_id == login.context.span_id
    assert dict(call.attributes or {}) == {
        "voipano.endpoint": "/call-otp",
        "server.address": "voipano.com",
        "voipano.attempts": 1,
        "http.response.status_code": 200,
        "voipano.charged": 160,
    }
    assert call.status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("endpoint", samples.ENDPOINTS, ids=lambda e: e.name)
async def test_each_method_names_its_span(
    api: respx.MockRouter, otel: Otel, traced: AsyncVoipano, endpoint: samples.Endpoint
) -> None:
    api.route(method=endpoint.method, path=endpoint.path).respond(200, json=endpoint.answer)

    await endpoint.call(traced)

    span = one(otel.finished(), f"voipano.{endpoint.name}")
    assert span.attributes is not None
    assert span.attributes["voipano.endpoint"] == endpoint.path


async def test_a_walk_makes_one_span_per_page(
    api: respx.MockRouter, otel: Otel, traced: AsyncVoipano
) -> None:
    def page(request: httpx2.Request) -> httpx2.Response:
        number = int(request.url.params["page"])
        body = samples.reports_page([number * 2 - 1, number * 2], page=number, per_page=2, total=6)
        return httpx2.Response(200, json=body)

    api.get("/call-reports").mock(side_effect=page)

    got = [r.id async for r in traced.call_reports(concurrency=2)]

    assert len(got) == 6
    pages = [s for s in otel.finished() if s.name == "voipano.call_reports_page"]
    assert len(pages) == 3
    assert {(s.attributes or {})["voipano.endpoint"] for s in pages} == {"/call-reports"}


async def test_a_download_is_one_span_with_no_id_in_its_endpoint(
    api: respx.MockRouter, otel: Otel, traced: AsyncVoipano, tmp_path: Path
) -> None:
    api.get("/call-recordings/abc123").respond(
        200, content=b"RIFF" + b"\0" * 100, headers=samples.RECORDING_HEADERS
    )

    await traced.download_call_recording("abc123", tmp_path)
    async with traced.stream_call_recording("abc123") as audio:
        await audio.read()

    download = one(otel.finished(), "voipano.download_call_recording")
    stream = one(otel.finished(), "voipano.stream_call_recording")
    for span in (download, stream):
        assert span.attributes is not None
        assert span.attributes["voipano.endpoint"] == "/call-recordings/{cdr_id}"
        assert span.attributes["http.response.status_code"] == 200
    assert download.end_time is not None


async def test_retries_are_span_events_and_counted(
    api: respx.MockRouter, otel: Otel, traced: AsyncVoipano
) -> None:
    api.get("/services").mock(
        side_effect=[
            httpx2.Response(503),
            httpx2.ConnectError("refused"),
            httpx2.Response(200, json=samples.SERVICES),
        ]
    )

    await traced.services()

    span = one(otel.finished(), "voipano.services")
    assert (span.attributes or {})["voipano.attempts"] == 3
    events = [(e.name, dict(e.attributes or {})) for e in span.events]
    assert [name for name, _ in events] == ["retry", "retry"]
    assert [a["voipano.retry.reason"] for _, a in events] == ["HTTP 503", "connection failed"]
    assert [a["voipano.retry.attempt"] for _, a in events] == [1, 2]
    assert all(a["voipano.retry.wait"] >= 0 for _, a in events)
    retries = otel.values("voipano.retries")
    assert sorted((a["voipano.retry.reason"], v) for a, v in retries) == [
        ("HTTP 503", 1),
        ("connection failed", 1),
    ]


async def test_a_failed_call_sets_the_error_and_masks_what_it_records(
    api: respx.MockRouter, otel: Otel, traced: AsyncVoipano
) -> None:
    api.post("/click-to-call").mock(side_effect=httpx2.ReadError(f"reset by {TOKEN}"))

    with pytest.raises(APIConnectionError):
        await traced.click_to_call(PHONE, "09129876543")

    span = one(otel.finished(), "voipano.click_to_call")
    attributes = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert attributes["voipano.may_have_been_placed"] is True
    assert attributes["voipano.attempts"] == 1
    assert attributes["error.type"] == "APIConnectionError"
    [event] = [e for e in span.events if e.name == "exception"]
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "voipano_async.APIConnectionError"
    text = json.dumps([dict(s.attributes or {}) for s in otel.finished()])
    text += json.dumps([dict(e.attributes or {}) for s in otel.finished() for e in s.events])
    text += otel.reader.get_metrics_data().to_json()  # type: ignore[union-attr]
    assert TOKEN not in text
    assert PHONE not in text
    assert "09129876543" not in text
    assert "reset by ***" in str(event.attributes["exception.message"])


async def test_a_server_error_is_recorded_with_its_status(
    api: respx.MockRouter, otel: Otel, traced: AsyncVoipano
) -> None:
    api.get("/services").respond(503)

    with pytest.raises(ServerError):
        await traced.services()

    span = one(otel.finished(), "voipano.services")
    attributes = dict(span.attributes or {})
    assert attributes["http.response.status_code"] == 503
    assert attributes["voipano.attempts"] == 3
    assert "voipano.may_have_been_placed" in attributes


async def test_the_metrics_count_calls_time_them_and_add_up_credit(
    api: respx.MockRouter, otel: Otel, traced: AsyncVoipano
) -> None:
    api.post("/call-otp").respond(200, json=samples.CALL_OTP)
    api.get("/services").mock(
        side_effect=[httpx2.Response(200, json=samples.SERVICES), httpx2.Response(404)]
    )

    await traced.call_otp(PHONE)
    await traced.call_otp(PHONE)
    await traced.services()
    with pytest.raises(Exception, match="404"):
        await traced.services()

    requests = {
        (a["voipano.endpoint"], a["voipano.outcome"]): v
        for a, v in otel.values("voipano.requests")
    }
    assert requests == {
        ("/call-otp", "ok"): 2,
        ("/services", "ok"): 1,
        ("/services", "NotFoundError"): 1,
    }
    durations = {
        (a["voipano.endpoint"], a["voipano.outcome"]): v
        for a, v in otel.values("voipano.request.duration")
    }
    assert durations[("/call-otp", "ok")][0] == 2
    assert durations[("/call-otp", "ok")][1] >= 0
    charged = otel.values("voipano.credit.charged")
    assert charged == [({"voipano.endpoint": "/call-otp"}, 320)]


async def test_a_call_refused_before_sending_makes_no_span(
    api: respx.MockRouter, otel: Otel, traced: AsyncVoipano
) -> None:
    with pytest.raises(InvalidPhoneNumberError):
        await traced.call_otp("12345")
    assert otel.finished() == []


async def test_none_means_the_global_providers(
    api: respx.MockRouter, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: otel.tracer_provider)
    api.get("/services").respond(200, json=samples.SERVICES)

    async with AsyncVoipano(TOKEN) as client:
        await client.services()

    assert [s.name for s in otel.finished()] == ["voipano.services"]


async def test_http_spans_of_the_callers_instrumentation_nest_under_the_call(
    api: respx.MockRouter, otel: Otel
) -> None:
    tracer = otel.tracer_provider.get_tracer("httpx-instrumentation")

    async def send(request: httpx2.Request) -> httpx2.Response:
        with tracer.start_as_current_span("HTTP GET"):
            await anyio.lowlevel.checkpoint()
        return httpx2.Response(200, json=samples.SERVICES)

    api.get("/services").mock(side_effect=send)
    async with AsyncVoipano(TOKEN, tracer_provider=otel.tracer_provider) as client:
        await client.services()

    spans = otel.finished()
    call = one(spans, "voipano.services")
    http = one(spans, "HTTP GET")
    assert http.parent is not None
    assert http.parent.span_id == call.context.span_id


def test_the_blocking_client_takes_the_providers(api: respx.MockRouter, otel: Otel) -> None:
    api.get("/services").respond(200, json=samples.SERVICES)
    with Voipano(TOKEN, tracer_provider=otel.tracer_provider) as client:
        client.services()
    assert [s.name for s in otel.finished()] == ["voipano.services"]


def test_without_opentelemetry_nothing_of_it_is_imported() -> None:
    script = (
        NO_OTEL_PRELUDE
        + """
import anyio
from voipano_async.testing import VoipanoSandbox

async def main():
    sandbox = VoipanoSandbox()
    async with sandbox.client() as client:
        await client.services()
        await client.call_otp("09123456789")
        assert client._transport.pool.telemetry.enabled is False

anyio.run(main)
assert not [m for m in sys.modules if m.startswith("opentelemetry")], sys.modules
print("ok")
"""
    )
    assert run_python(script).strip() == "ok"


async def test_the_fastapi_tree_in_the_docs(api: respx.MockRouter, otel: Otel) -> None:
    """docs/observability.md: a FastAPI request whose OTP call met one 429."""
    from fastapi import FastAPI, Request

    api.post("/call-otp").mock(
        side_effect=[
            httpx2.Response(429, headers={"Retry-After": "0"}),
            httpx2.Response(200, json=samples.CALL_OTP),
        ]
    )
    tracer = otel.tracer_provider.get_tracer("fastapi-instrumentation")
    app = FastAPI()
    client = AsyncVoipano(TOKEN, tracer_provider=otel.tracer_provider)

    @app.middleware("http")
    async def server_span(request: Request, call_next: Any) -> Any:
        name = f"{request.method} {request.url.path}"
        with tracer.start_as_current_span(name, kind=SpanKind.SERVER):
            return await call_next(request)

    @app.post("/login/otp")
    async def send_otp(phone: str) -> dict[str, str]:
        otp = await client.call_otp(phone, purpose="login")
        return {"request_id": otp.request_id}

    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://app") as http:
        answer = await http.post("/login/otp", params={"phone": PHONE})
    await client.aclose()

    assert answer.status_code == 200
    spans = otel.finished()
    server = one(spans, "POST /login/otp")
    call = one(spans, "voipano.call_otp")
    assert call.parent is not None
    assert call.parent.span_id == server.context.span_id
    assert call.kind is SpanKind.CLIENT
    attributes = dict(call.attributes or {})
    assert attributes["voipano.attempts"] == 2
    assert attributes["voipano.charged"] == 160
    assert attributes["http.response.status_code"] == 200
    assert attributes["server.address"] == "voipano.com"
    [retry] = call.events
    assert retry.name == "retry"
    assert (retry.attributes or {})["voipano.retry.reason"] == "HTTP 429"
    assert (retry.attributes or {})["voipano.retry.attempt"] == 1
