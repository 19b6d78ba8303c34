"""The leased scheduler: each tick of a periodic job runs on one replica only, a failing
job never stops the scheduler, and shutdown lets a running job finish."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
import structlog
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from loom.api.correlation import correlation_id
from loom.platform.lifecycle import start_background, stop_background
from loom.platform.runtime import Runtime
from loom.platform.scheduler import JobRegistry, LeasedScheduler, PeriodicJob
from loom.settings import SchedulerSettings

Replicas = Callable[[int], list[Runtime]]


class Recorder:
    """A job body that counts its runs (and which runtime ran it)."""

    def __init__(self, seconds: float = 0.0, fail: bool = False) -> None:
        self.seconds = seconds
        self.fail = fail
        self.runs: list[Runtime] = []

    async def __call__(self, runtime: Runtime) -> None:
        self.runs.append(runtime)
        await asyncio.sleep(self.seconds)
        if self.fail:
            raise RuntimeError("job exploded")


def runs(registry: CollectorRegistry, job: str, outcome: str) -> float:
    value = registry.get_sample_value(
        "loom_scheduler_job_runs_total", {"job": job, "outcome": outcome}
    )
    return value or 0.0


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polls state owned by the scheduler
            await asyncio.sleep(0.02)


async def test_concurrent_ticks_on_two_replicas_run_the_job_once(replicas: Replicas) -> None:
    a, b = replicas(2)
    body = Recorder(seconds=0.05)
    job = PeriodicJob("sync", body, every=timedelta(seconds=30))
    first, second = LeasedScheduler(a, [job], holder="a"), LeasedScheduler(b, [job], holder="b")

    results = await asyncio.gather(first.run_once(job), second.run_once(job))

    assert sorted(results) == [False, True]
    assert len(body.runs) == 1
    winner, loser = (a, b) if results[0] else (b, a)
    assert runs(winner.registry, "sync", "ok") == 1
    assert runs(loser.registry, "sync", "skipped") == 1


async def test_the_other_replica_runs_the_next_tick_once_the_lease_expires(
    replicas: Replicas,
) -> None:
    a, b = replicas(2)
    body = Recorder()
    job = PeriodicJob("sync", body, every=timedelta(milliseconds=300))
    first, second = LeasedScheduler(a, [job], holder="a"), LeasedScheduler(b, [job], holder="b")

    assert await first.run_once(job)
    assert not await second.run_once(job)  # same tick: a holds it
    await asyncio.sleep(0.3)  # the lease lasts 0.9 of the interval
    assert await second.run_once(job)
    assert not await first.run_once(job)
    assert body.runs == [a, b]


async def test_a_failing_job_is_logged_and_counted_not_raised(replicas: Replicas) -> None:
    (a,) = replicas(1)
    job = PeriodicJob("explode", Recorder(fail=True), every=timedelta(seconds=30))
    scheduler = LeasedScheduler(a, [job])

    with capture_logs() as logs:
        assert await scheduler.run_once(job)

    (failure,) = [e for e in logs if e["event"] == "periodic job failed"]
    assert failure["log_level"] == "error"
    assert failure["job"] == "explode"
    assert failure["exc_info"] is True
    assert runs(a.registry, "explode", "failed") == 1


async def test_the_scheduler_keeps_ticking_after_a_job_fails(replicas: Replicas) -> None:
    (a,) = replicas(1)
    failing = Recorder(fail=True)
    healthy = Recorder()
    scheduler = LeasedScheduler(
        a,
        [
            PeriodicJob("failing", failing, every=timedelta(milliseconds=100)),
            PeriodicJob("healthy", healthy, every=timedelta(milliseconds=100)),
        ],
    )
    scheduler.start()
    try:
        await until(lambda: len(failing.runs) >= 3 and len(healthy.runs) >= 3)
        assert "scheduler" in a.heartbeats
    finally:
        await scheduler.shutdown()
    assert "scheduler" not in a.heartbeats
    assert runs(a.registry, "failing", "failed") >= 3


async def test_a_job_runs_under_its_own_correlation_id(replicas: Replicas) -> None:
    (a,) = replicas(1)
    seen: list[tuple[str | None, object]] = []

    async def body(_runtime: Runtime) -> None:
        seen.append((correlation_id(), structlog.contextvars.get_contextvars().get("job")))

    job = PeriodicJob("ids", body, every=timedelta(seconds=30))
    with structlog.contextvars.bound_contextvars(correlation_id="caller"):
        assert await LeasedScheduler(a, [job]).run_once(job)
        assert structlog.contextvars.get_contextvars()["correlation_id"] == "caller"
    ((cid, bound_job),) = seen
    assert cid and cid != "caller"
    assert bound_job == "ids"


async def test_shutdown_lets_a_running_job_finish(replicas: Replicas) -> None:
    (a,) = replicas(1)
    body = Recorder(seconds=0.4)
    scheduler = LeasedScheduler(a, [PeriodicJob("slow", body, every=timedelta(milliseconds=100))])
    scheduler.start()
    await until(lambda: bool(body.runs))
    await scheduler.shutdown(grace_seconds=5)
    assert len(body.runs) == 1
    assert runs(a.registry, "slow", "ok") == 1


async def test_shutdown_cancels_a_job_that_overruns_the_grace_period(replicas: Replicas) -> None:
    (a,) = replicas(1)
    body = Recorder(seconds=30)
    scheduler = LeasedScheduler(a, [PeriodicJob("stuck", body, every=timedelta(milliseconds=50))])
    scheduler.start()
    await until(lambda: bool(body.runs))
    with capture_logs() as logs:
        async with asyncio.timeout(3):
            await scheduler.shutdown(grace_seconds=0.2)
    assert any(e["event"] == "periodic job cancelled at shutdown" for e in logs)


async def test_lifecycle_starts_and_stops_the_scheduler(replicas: Replicas) -> None:
    (a,) = replicas(1)
    a.settings = a.settings.model_copy(update={"scheduler": SchedulerSettings(enabled=True)})
    await start_background(a)
    assert isinstance(a.extras["scheduler"], LeasedScheduler)
    assert "scheduler" in a.heartbeats
    await stop_background(a)
    assert "scheduler" not in a.extras and "scheduler" not in a.heartbeats


def test_periodic_refuses_a_duplicate_name() -> None:
    registry = JobRegistry()

    @registry.periodic("reports.daily", every=timedelta(days=1))
    async def daily(_runtime: Runtime) -> None: ...

    with pytest.raises(ValueError, match=r"'reports.daily' registered twice"):

        @registry.periodic("reports.daily", every=timedelta(hours=1))
        async def again(_runtime: Runtime) -> None: ...

    assert [job.func for job in registry] == [daily]


@pytest.mark.parametrize(("name", "every"), [("", timedelta(1)), ("x", timedelta(0))])
def test_a_job_needs_a_name_and_a_positive_interval(name: str, every: timedelta) -> None:
    async def body(_runtime: Runtime) -> None: ...

    with pytest.raises(ValueError):
        PeriodicJob(name, body, every)
