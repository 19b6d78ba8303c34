"""Periodic jobs that run once across all replicas.

Each job is an APScheduler interval job in every process; before running, a process
takes the job's lease for one interval (loom.platform.leases). Whoever holds it runs the
job; the others skip that tick. Jobs should only enqueue work, never do long work inline.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from loom.platform.leases import try_acquire
from loom.platform.runtime import Runtime

log = structlog.get_logger("loom.scheduler")
JobFunc = Callable[[Runtime], Awaitable[None]]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: JobFunc
    every: timedelta


#: Jobs later domains register at import time through `periodic()`.
_REGISTRY: dict[str, PeriodicJob] = {}


def periodic(name: str, every: timedelta) -> Callable[[JobFunc], JobFunc]:
    def register(func: JobFunc) -> JobFunc:
        if name in _REGISTRY:
            raise ValueError(f"periodic job {name!r} registered twice")
        _REGISTRY[name] = PeriodicJob(name, func, every)
        return func

    return register


class LeasedScheduler:
    def __init__(self, runtime: Runtime, jobs: list[PeriodicJob] | None = None) -> None:
        self.runtime = runtime
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.jobs = list(_REGISTRY.values()) if jobs is None else jobs
        self._scheduler = AsyncIOScheduler(timezone="UTC")

    def start(self) -> None:
        for job in self.jobs:
            self._scheduler.add_job(
                self.run_once,
                "interval",
                seconds=job.every.total_seconds(),
                args=[job],
                id=job.name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )
        beat = self.runtime.settings.workers.heartbeat_seconds
        self._scheduler.add_job(self._heartbeat, "interval", seconds=beat, id="_heartbeat")
        self._scheduler.start()
        self.runtime.beat("scheduler")

    async def _heartbeat(self) -> None:
        self.runtime.beat("scheduler")

    async def run_once(self, job: PeriodicJob) -> bool:
        """Run `job` if this process wins its lease for this interval; True if it ran."""
        # The lease lasts a little less than one interval so the next tick can take it.
        ttl = job.every * 0.9
        if not await try_acquire(self.runtime.sessions, f"job:{job.name}", self.holder, ttl):
            return False
        structlog.contextvars.bind_contextvars(job=job.name, correlation_id=uuid.uuid4().hex)
        try:
            await job.func(self.runtime)
        except Exception:
            log.exception("periodic job failed", job=job.name)
        finally:
            structlog.contextvars.clear_contextvars()
        return True

    async def shutdown(self) -> None:
        self._scheduler.shutdown(wait=False)
        self.runtime.heartbeats.pop("scheduler", None)
