"""The objects one running Loom process shares (settings, engine, sessions, metrics),
built once in create_app() and reachable from requests as `request.app.state.runtime`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from loom.db.engine import create_engine, create_sessionmaker
from loom.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    started_at: float = field(default_factory=time.monotonic)
    #: Background components (scheduler, worker pool) report liveness here: name → last beat.
    heartbeats: dict[str, float] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        engine = create_engine(settings)
        return cls(settings=settings, engine=engine, sessions=create_sessionmaker(engine))

    def beat(self, component: str) -> None:
        self.heartbeats[component] = time.monotonic()
