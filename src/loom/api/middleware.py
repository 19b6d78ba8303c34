"""The per-request middleware: correlation id, log context, span, RED metrics, access
log, and the last-resort 500 envelope (no stack trace ever reaches the client)."""

from __future__ import annotations

import time

import structlog
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loom.api.correlation import HEADER, accept_or_new, set_correlation_id
from loom.api.errors import envelope
from loom.platform.metrics import HttpMetrics
from loom.platform.routes import route_template

log = structlog.get_logger("loom.http")
_QUIET_ROUTES = frozenset({"/api/v1/health", "/api/v1/health/ready", "/metrics"})


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics, tracer: Tracer) -> None:
        self.app = app
        self.metrics = metrics
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cid = accept_or_new(headers.get(HEADER.lower()))
        set_correlation_id(cid)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=cid)
        method: str = scope["method"]
        status = 500
        started = False
        begin = time.perf_counter()
        self.metrics.in_flight.inc()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [
                    *[
                        (k, v)
                        for k, v in message.get("headers", [])
                        if k.lower() != HEADER.lower().encode()
                    ],
                    (HEADER.lower().encode(), cid.encode()),
                ]
            await send(message)

        parent = propagate.extract(headers)
        with self.tracer.start_as_current_span(
            f"{method} {scope['path']}", context=parent, kind=SpanKind.SERVER
        ) as span:
            span.set_attribute("http.request.method", method)
            span.set_attribute("loom.correlation_id", cid)
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("unhandled error", method=method, path=scope["path"])
                span.set_status(Status(StatusCode.ERROR))
                if not started:
                    response = envelope(
                        500, "INTERNAL_ERROR", "internal error; quote the correlation id"
                    )
                    await response(scope, receive, send_with_id)
            finally:
                self.metrics.in_flight.dec()
                route = route_template(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                elapsed = time.perf_counter() - begin
                self.metrics.requests.labels(method, route, str(status)).inc()
                self.metrics.duration.labels(method, route).observe(elapsed)
                if status >= 500:
                    self.metrics.errors.labels(method, route).inc()
                if route not in _QUIET_ROUTES:
                    log.info(
                        "request",
                        method=method,
                        path=scope["path"],
                        route=route,
                        status=status,
                        duration_ms=round(elapsed * 1000, 2),
                    )
