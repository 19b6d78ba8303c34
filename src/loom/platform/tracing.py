"""OpenTelemetry tracing. Spans are always created (cheap); they are exported only
when an OTLP endpoint is configured."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from loom import __version__
from loom.settings import TelemetrySettings


def build_tracer_provider(settings: TelemetrySettings) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": settings.service_name, "service.version": __version__}
        )
    )
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
        )
    return provider


def get_tracer(provider: TracerProvider) -> trace.Tracer:
    return provider.get_tracer("loom")
