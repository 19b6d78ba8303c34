"""Helpers shared by the platform tests."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.sdk.trace import Tracer
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from loom.api.middleware import RequestContextMiddleware


def record_spans(app: FastAPI) -> InMemorySpanExporter:
    """Collect, in memory, every span the app's request middleware ends from now on.

    Goes through the tracer the middleware was given, so it works whichever provider
    create_app() built it from (`app.state.runtime.tracer_provider` once app.py uses it).
    """
    tracer = next(
        m.kwargs["tracer"]
        for m in app.user_middleware
        if getattr(m, "cls", None) is RequestContextMiddleware
    )
    assert isinstance(tracer, Tracer)
    exporter = InMemorySpanExporter()
    tracer.span_processor.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[attr-defined]
    return exporter
