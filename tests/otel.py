"""OpenTelemetry's SDK wired to memory, for the telemetry tests: spans and metrics kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from voipano_async._telemetry import Telemetry

from .conftest import TOKEN


def scrub(text: str) -> str:
    """What the client passes: the token out of any text."""
    return text.replace(TOKEN, "***")


@attrs.define
class Otel:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def telemetry(self, *, server_port: int | None = 443) -> Telemetry:
        """A recorder on these providers, as a client for voipano.com would make it."""
        return Telemetry(
            self.tracer_provider,
            self.meter_provider,
            server_address="voipano.com",
            server_port=server_port,
            scrub=scrub,
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def metrics(self) -> dict[str, Any]:
        """Each metric by name, collected now."""
        data = self.reader.get_metrics_data()
        return {
            metric.name: metric
            for resource in (data.resource_metrics if data else [])
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }

    def points(self, name: str) -> dict[frozenset[tuple[str, Any]], Any]:
        """The data points of the metric ``name``, by their attributes."""
        metric = self.metrics().get(name)
        points = metric.data.data_points if metric else []
        return {frozenset((point.attributes or {}).items()): point for point in points}

    def values(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, value) of each data point of ``name``; (count, sum) for histograms."""
        found = []
        for key, point in self.points(name).items():
            value = getattr(point, "value", None)
            found.append((dict(key), (point.count, point.sum) if value is None else value))
        return found


def in_memory() -> Iterator[Otel]:
    """SDK providers that keep what they record; shut down afterwards."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    yield Otel(spans, reader, tracer_provider, MeterProvider(metric_readers=[reader]))
    tracer_provider.shutdown()
