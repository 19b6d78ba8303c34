"""OpenTelemetry tracing. Spans are always created (cheap, and tests can read them);
they leave the process only when an OTLP endpoint is configured.

Each Runtime owns its provider (never the global one, so several apps in one process
keep their spans apart); `Runtime.close()` flushes and shuts it down.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from loom import __version__
from loom.settings import TelemetrySettings

TRACER_NAME = "loom"


def build_tracer_provider(settings: TelemetrySettings) -> TracerProvider:
    """A provider tagged with the service name and version; exporting over OTLP/HTTP
    (in batches, off the request path) only if `otlp_endpoint` is set."""
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": settings.service_name, "service.version": __version__}
        )
    )
    if settings.otlp_endpoint:
        # Imported here: the exporter (protobuf, requests) costs startup time and memory.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
        )
    return provider


def get_tracer(provider: TracerProvider) -> trace.Tracer:
    return provider.get_tracer(TRACER_NAME, __version__)
