"""The objects one running Loom process shares (settings, engine, sessions, metrics,
tracing, heartbeats), built once in create_app() and reachable from requests as
`request.app.state.runtime`."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from loom.db.engine import create_engine, create_sessionmaker
from loom.platform.metrics import BreakerCollector, JobMetrics, build_registry
from loom.platform.tracing import build_tracer_provider
from loom.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    registry: CollectorRegistry = field(default_factory=build_registry)
    tracer_provider: TracerProvider = field(default_factory=TracerProvider)
    started_at: float = field(default_factory=time.monotonic)
    #: Background components (scheduler, worker pool) report liveness here: name → last beat
    #: (time.monotonic()). Readiness fails when one of them falls silent.
    heartbeats: dict[str, float] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    job_metrics: JobMetrics = field(init=False)

    def __post_init__(self) -> None:
        self.job_metrics = JobMetrics.register(self.registry)
        self.registry.register(BreakerCollector(self.breaker_states))

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        """Everything from settings; nothing connects to the database yet."""
        engine = create_engine(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_sessionmaker(engine),
            tracer_provider=build_tracer_provider(settings.telemetry),
        )

    def breaker_states(self) -> dict[str, str]:
        """The circuit breakers of outgoing calls made so far: "integration host" → state."""
        clients = self.extras.get("http_clients")
        return dict(clients.breaker_states()) if clients is not None else {}

    def beat(self, component: str) -> None:
        """Record that `component` is alive (see loom.platform.health.check_components)."""
        self.heartbeats[component] = time.monotonic()

    def forget(self, component: str) -> None:
        """`component` stopped on purpose: it no longer counts for readiness."""
        self.heartbeats.pop(component, None)

    async def close(self) -> None:
        """Release what the process holds: outgoing HTTP connections, pending spans
        (flushed), database pools."""
        clients = self.extras.pop("http_clients", None)
        if clients is not None:
            await clients.aclose()
        for queue in self.extras.pop("queues", {}).values():
            await queue.close()  # returns the connections a queue keeps checked out
        # A batch exporter may block while it flushes: keep the event loop free meanwhile.
        await asyncio.to_thread(self.tracer_provider.shutdown)
        await self.engine.dispose()
