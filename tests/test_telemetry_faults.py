"""Telemetry never changes a call's outcome: a failing span processor or meter is logged
once, and the call goes on."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from voipano_async import AsyncVoipano, NotFoundError
from voipano_async.testing import Fault, VoipanoSandbox

pytestmark = pytest.mark.anyio


class Raising(SpanProcessor):
    """A span processor with a bug, in ``on_start`` or ``on_end``."""

    def __init__(self, where: str) -> None:
        self.where = where

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.where == "on_start":
            raise RuntimeError("processor bug in on_start")

    def on_end(self, span: Any) -> None:
        if self.where == "on_end":
            raise RuntimeError("processor bug in on_end")


class BrokenInstrument:
    def add(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("exporter queue full")

    record = add


class BrokenMeter:
    def create_counter(self, *args: Any, **kwargs: Any) -> BrokenInstrument:
        return BrokenInstrument()

    create_histogram = create_counter


class BrokenMeterProvider:
    def get_meter(self, *args: Any, **kwargs: Any) -> BrokenMeter:
        return BrokenMeter()


def client_with(sandbox: VoipanoSandbox, where: str) -> AsyncVoipano:
    tracer_provider = TracerProvider()
    if where == "meter":
        return sandbox.client(
            tracer_provider=tracer_provider, meter_provider=BrokenMeterProvider()
        )
    tracer_provider.add_span_processor(Raising(where))
    return sandbox.client(tracer_provider=tracer_provider)


@pytest.mark.parametrize("where", ["on_start", "on_end", "meter"])
async def test_a_placed_call_is_a_result_whatever_telemetry_does(
    where: str, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = VoipanoSandbox()
    caplog.set_level(logging.WARNING, logger="voipano_async")
    async with client_with(sandbox, where) as client:
        for _ in range(3):
            otp = await client.call_otp("09123456789")
            assert otp.billing is not None
            assert otp.billing.charged == 160
        assert client.spent == 3 * 160
    assert len(sandbox.requests) == 3  # each sent once: nothing to "fix" by calling again
    failures = [r for r in caplog.records if "OpenTelemetry failed" in r.getMessage()]
    assert len(failures) == 1  # logged once, not per call
    assert "bug" in failures[0].getMessage() or "queue" in failures[0].getMessage()


@pytest.mark.parametrize("where", ["on_start", "on_end", "meter"])
async def test_a_failed_call_raises_its_own_error_whatever_telemetry_does(where: str) -> None:
    sandbox = VoipanoSandbox()
    sandbox.faults.script("/services", Fault.error(404))
    async with client_with(sandbox, where) as client:
        with pytest.raises(NotFoundError):
            await client.services()
        # Retries record too; a 503 then a success is a success.
        sandbox.faults.script("/services", Fault.error(503))
        assert (await client.services()).total == 2
