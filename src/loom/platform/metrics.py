"""Prometheus metrics, in a registry owned by each Runtime so that several apps in one
process (tests) never collide: RED metrics per route (rate, errors, duration), periodic
job outcomes, and the process's own figures (memory, CPU, open files)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)


def build_registry() -> CollectorRegistry:
    """A fresh registry that also reports the process (process_*, python_*)."""
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


@dataclass(frozen=True)
class HttpMetrics:
    """RED metrics per route template (never the raw path: ids would explode cardinality)."""

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


@dataclass(frozen=True)
class JobMetrics:
    """Periodic job ticks by outcome: `ok`, `failed`, or `skipped` (another replica
    held the tick's lease), and how long the runs took."""

    runs: Counter
    duration: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry) -> JobMetrics:
        return cls(
            runs=Counter(
                "loom_scheduler_job_runs",
                "Periodic job ticks by outcome",
                ["job", "outcome"],
                registry=registry,
            ),
            duration=Histogram(
                "loom_scheduler_job_duration_seconds",
                "Time a periodic job took when this process ran it",
                ["job"],
                buckets=JOB_BUCKETS,
                registry=registry,
            ),
        )


class BreakerCollector(Collector):
    """`loom_http_circuit_state{integration, host, state}`: 1 for the state each circuit
    breaker of outgoing calls is in (closed, open, half-open), 0 for the others; read at
    scrape time from `states()` ("integration host" → state)."""

    STATES = ("closed", "open", "half-open")

    def __init__(self, states: Callable[[], Mapping[str, str]]) -> None:
        self._states = states

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "loom_http_circuit_state",
            "Circuit breaker of outgoing calls per integration and host: 1 for its state",
            labels=["integration", "host", "state"],
        )
        for key, current in sorted(self._states().items()):
            integration, _, host = key.partition(" ")
            for state in self.STATES:
                family.add_metric([integration, host, state], 1.0 if state == current else 0.0)
        yield family
