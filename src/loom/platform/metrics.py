"""Prometheus metrics: RED metrics per route (rate, errors, duration), in a registry
owned by the app so several apps in one process (tests) never collide."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class HttpMetrics:
    requests: Counter
    errors: Counter
    duration: Histogram
    in_flight: Gauge

    @classmethod
    def register(cls, registry: CollectorRegistry) -> HttpMetrics:
        return cls(
            requests=Counter(
                "loom_http_requests",
                "HTTP requests handled",
                ["method", "route", "status"],
                registry=registry,
            ),
            errors=Counter(
                "loom_http_errors",
                "HTTP requests answered with a 5xx",
                ["method", "route"],
                registry=registry,
            ),
            duration=Histogram(
                "loom_http_request_duration_seconds",
                "Time to answer an HTTP request",
                ["method", "route"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            in_flight=Gauge("loom_http_in_flight", "HTTP requests in progress", registry=registry),
        )
