"""Periodic jobs that run once across all replicas.

Every process schedules every registered job (an APScheduler interval job). At each
tick a process first tries to take the job's lease (loom.platform.leases) for 0.9 of
the interval: whoever wins runs the job, the others skip that tick. So runs are never
closer than 0.9 intervals, and while any replica is up the job runs about once per
interval. Jobs should only enqueue work, never do long work inline.

Domains register jobs at import time::

    @periodic("catalog.sync", every=timedelta(minutes=5))
    async def sync_catalog(runtime: Runtime) -> None: ...

`every` may also be read from the settings when the scheduler starts:
`every=lambda settings: timedelta(seconds=settings.workers.wait_check_seconds)`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from loom.api.correlation import set_correlation_id
from loom.platform.leases import try_acquire
from loom.platform.runtime import Runtime
from loom.settings import Settings

log = structlog.get_logger("loom.scheduler")
JobFunc = Callable[[Runtime], Awaitable[None]]
Interval = timedelta | Callable[[Settings], timedelta]
#: The part of each interval a tick's lease lasts (a little less than one interval, so
#: the next tick, whoever fires it, can take it).
LEASE_FRACTION = 0.9


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: JobFunc
    every: Interval

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a periodic job needs a name")
        if isinstance(self.every, timedelta) and self.every <= timedelta(0):
            raise ValueError(f"periodic job {self.name!r}: `every` must be positive")

    def interval(self, settings: Settings) -> timedelta:
        """The time between runs (read from `settings` when `every` is a function)."""
        every = self.every if isinstance(self.every, timedelta) else self.every(settings)
        if every <= timedelta(0):
            raise ValueError(f"periodic job {self.name!r}: `every` must be positive")
        return every

    @property
    def lease_name(self) -> str:
        return f"job:{self.name}"


class JobRegistry:
    """The periodic jobs of the process, by unique name."""

    def __init__(self) -> None:
        self._jobs: dict[str, PeriodicJob] = {}

    def add(self, job: PeriodicJob) -> None:
        if job.name in self._jobs:
            raise ValueError(f"periodic job {job.name!r} registered twice")
        self._jobs[job.name] = job

    def periodic(self, name: str, every: Interval) -> Callable[[JobFunc], JobFunc]:
        """Decorator: register `func` to run every `every` (once across replicas)."""

        def register(func: JobFunc) -> JobFunc:
            self.add(PeriodicJob(name, func, every))
            return func

        return register

    def __iter__(self) -> Iterator[PeriodicJob]:
        return iter(list(self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)


#: The jobs later domains register at import time.
JOBS = JobRegistry()
periodic = JOBS.periodic


def _default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeasedScheduler:
    """Runs periodic jobs in this process's event loop, each tick only if this process
    wins the tick's lease, and beats the "scheduler" heartbeat while it is alive."""

    def __init__(
        self,
        runtime: Runtime,
        jobs: list[PeriodicJob] | None = None,
        *,
        holder: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.holder = holder or _default_holder()
        self.jobs = list(JOBS) if jobs is None else list(jobs)
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Schedule every job (first tick one interval from now); needs a running loop."""
        for job in self.jobs:
            self._scheduler.add_job(
                self.run_once,
                "interval",
                seconds=job.interval(self.runtime.settings).total_seconds(),
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
        """Run `job` now if this process wins its lease for this tick; True if it ran.

        A failing job is logged and counted, never raised: the next tick runs as usual.
        """
        metrics = self.runtime.job_metrics
        ttl = job.interval(self.runtime.settings) * LEASE_FRACTION
        try:
            won = await try_acquire(self.runtime.sessions, job.lease_name, self.holder, ttl)
        except Exception:
            log.exception("periodic job lease unavailable", job=job.name)
            metrics.runs.labels(job.name, "failed").inc()
            return False
        if not won:
            metrics.runs.labels(job.name, "skipped").inc()
            return False
        # Its own task: its context (correlation id) stays its own, and the shield lets it
        # finish when APScheduler cancels its pending ticks at shutdown (see shutdown()).
        task = asyncio.create_task(self._run(job), name=job.lease_name)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        await asyncio.shield(task)
        return True

    async def _run(self, job: PeriodicJob) -> None:
        cid = uuid.uuid4().hex
        set_correlation_id(cid)
        metrics = self.runtime.job_metrics
        with structlog.contextvars.bound_contextvars(job=job.name, correlation_id=cid):
            begin = time.perf_counter()
            try:
                await job.func(self.runtime)
            except Exception:
                log.exception("periodic job failed", job=job.name)
                outcome = "failed"
            else:
                outcome = "ok"
            elapsed = time.perf_counter() - begin
            metrics.runs.labels(job.name, outcome).inc()
            metrics.duration.labels(job.name).observe(elapsed)
            log.debug("periodic job ran", outcome=outcome, duration_ms=round(elapsed * 1000, 2))

    async def shutdown(self, grace_seconds: float = 20.0) -> None:
        """Stop ticking; let runs in progress finish for up to `grace_seconds`, then
        cancel them."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self.runtime.forget("scheduler")
        running = set(self._running)
        if not running:
            return
        _done, late = await asyncio.wait(running, timeout=grace_seconds)
        for task in late:
            log.warning("periodic job cancelled at shutdown", job=task.get_name())
            task.cancel()
        if late:
            await asyncio.wait(late)
