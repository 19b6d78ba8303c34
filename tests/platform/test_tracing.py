"""OpenTelemetry: a server span per request, named by method and route template, with
the status code; nothing leaves the process unless an OTLP endpoint is configured."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from loom.platform.tracing import build_tracer_provider, get_tracer
from loom.settings import TelemetrySettings
from tests.conftest import Tenant
from tests.platform.helpers import record_spans


@pytest.mark.sqlite_only
async def test_each_request_ends_one_span_with_status_and_correlation_id(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    spans = record_spans(app)
    await client.get("/api/v1/health", headers={"X-Correlation-ID": "trace-me-1"})
    await client.get("/api/v1/me")

    finished = spans.get_finished_spans()
    assert len(finished) == 2
    health, me = finished
    assert health.attributes is not None and me.attributes is not None
    assert health.attributes["http.request.method"] == "GET"
    assert health.attributes["http.response.status_code"] == 200
    assert health.attributes["loom.correlation_id"] == "trace-me-1"
    assert me.attributes["http.response.status_code"] == 401
    assert health.context is not None and me.context is not None
    assert health.context.trace_id != me.context.trace_id


@pytest.mark.sqlite_only
async def test_span_is_named_by_method_and_route_template(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    spans = record_spans(app)
    await client.get(f"/api/v1/teams/{tenant.team_a}", headers=tenant.headers["admin-a"])

    (span,) = spans.get_finished_spans()
    assert span.name == "GET /api/v1/teams/{team_id}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/api/v1/teams/{team_id}"
    assert span.attributes["http.response.status_code"] == 200


def test_no_exporter_unless_an_endpoint_is_configured() -> None:
    provider = build_tracer_provider(TelemetrySettings())
    assert provider._active_span_processor._span_processors == ()  # nothing exported

    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with get_tracer(provider).start_as_current_span("work"):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.resource.attributes["service.name"] == "loom"
    provider.shutdown()


def test_otlp_endpoint_adds_a_batch_exporter() -> None:
    provider = build_tracer_provider(
        TelemetrySettings(otlp_endpoint="http://127.0.0.1:9/v1/traces")
    )
    try:
        (processor,) = provider._active_span_processor._span_processors
        assert type(processor).__name__ == "BatchSpanProcessor"
    finally:
        provider.shutdown()
