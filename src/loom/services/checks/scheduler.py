"""Running health checks on schedule: one leased periodic job and a per-process pool.

Why not the queue: every `tick_seconds` the job (run by one replica, under its lease)
only *claims* checks, a quick conditional UPDATE each (see runner), and hands them to
this process's pool, which starts a task per claimed slot and returns at once; the job
does no long work inline. A queue message per run would add a write, a read and a
worker hop to each of 500+ runs a minute and put check latency behind provisioning
tasks, for nothing a check needs: a run is cheap, and losing one (the process dies
before it ran) only skips that slot; the claim already moved the check to its next.

Schedule accuracy: the job claims checks due within the next two ticks, and each task
waits for its slot before it runs, so runs start on their slot (lag is milliseconds,
not up to a tick). Multi-replica safety is the claim's: a slot is claimed once across
all processes however ticks overlap. Concurrency per process is bounded twice: a task
runs its request under a semaphore (`health_checks.concurrency`), and a tick claims
no more than `batch_size` minus the slots still pending here. Results are written by
group commit (see CheckPool._record), so a burst of runs makes a few transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import httpx
import structlog

from loom.db.types import utcnow
from loom.platform.http import http_clients
from loom.platform.runtime import Runtime
from loom.platform.scheduler import periodic
from loom.services.checks import probe, runner
from loom.services.checks.probe import Outcome

log = structlog.get_logger("loom.services.checks")

EXTRAS_KEY = "health_check_pool"
#: Hosts the demo's check target adds to the allow-list of checks (runtime.extras).
EXTRA_HOSTS_KEY = "health_check_hosts"
INTEGRATION = "health-checks"
#: Results are pruned at most this often (the job ticks every few seconds).
PRUNE_EVERY = timedelta(minutes=10)
#: How far ahead a tick claims slots, in ticks.
LOOKAHEAD_TICKS = 2


class CheckPool:
    """This process's running check slots. `now` is the clock (tests inject one)."""

    def __init__(self, runtime: Runtime, *, now: Callable[[], datetime] = utcnow) -> None:
        self.runtime = runtime
        self.now = now
        self.settings = runtime.settings.health_checks
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self._tasks: set[asyncio.Task[Outcome | None]] = set()
        self._pruned_at: datetime | None = None
        #: This process's writes of results, one at a time (see _record).
        self._writes = asyncio.Lock()
        self._unwritten: list[tuple[uuid.UUID, datetime, Outcome]] = []

    @property
    def client(self) -> httpx.AsyncClient:
        extra = self.runtime.extras.get(EXTRA_HOSTS_KEY, ())
        return http_clients(self.runtime).client(INTEGRATION, extra_hosts=extra, breaker=False)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def tick(self) -> list[asyncio.Task[Outcome | None]]:
        """Claim the slots due before the next tick and start a task for each."""
        now = self.now()
        # Two ticks ahead: a tick that comes late (a busy loop, a slow claim) still finds
        # its slots claimed by the one before, ready to start on time.
        until = now + LOOKAHEAD_TICKS * timedelta(seconds=self.settings.tick_seconds)
        limit = self.settings.batch_size - self.pending
        async with self._writes:
            claims = await runner.claim_due(self.runtime.sessions, until, now, limit)
        started = [self._start(claim) for claim in claims]
        await self._maybe_prune(now)
        return started

    def _start(self, claim: runner.Claim) -> asyncio.Task[Outcome | None]:
        task = asyncio.create_task(self._run(claim), name=f"health-check:{claim.check_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, claim: runner.Claim) -> Outcome | None:
        wait = (claim.slot - self.now()).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            return await self.run(claim.check_id, claim.slot, claim.probe)
        except Exception:
            log.exception("health check run failed", check_id=str(claim.check_id))
            return None

    async def run(self, check_id: uuid.UUID, slot: datetime, target: probe.Probe) -> Outcome:
        """Run one check now (bounded by the pool's concurrency) and record the result."""
        async with self._slots:
            outcome = await probe.run(self.client, target, now=self.now)
        await self._record(check_id, slot, outcome)
        return outcome

    async def _record(self, check_id: uuid.UUID, slot: datetime, outcome: Outcome) -> None:
        """Group commit: results that finish while a write is in progress are written
        together by the next writer, in one transaction. Dozens of runs finishing at once
        thus make a few transactions, not dozens contending for the database (SQLite has
        one writer at a time). When this returns, the result is committed, or was lost with a
        batch whose write failed (the writer of that batch raises, and the run is logged)."""
        self._unwritten.append((check_id, slot, outcome))
        async with self._writes:
            batch, self._unwritten = self._unwritten, []
            if batch:
                async with self.runtime.sessions() as session, session.begin():
                    for item in batch:
                        await runner.record(session, *item)

    async def run_all(self, checks: Iterable[tuple[uuid.UUID, probe.Probe]]) -> list[Outcome]:
        """Run `checks` now, together (the "run now" of a service's checks)."""
        slot = self.now()
        return list(await asyncio.gather(*(self.run(check_id, slot, p) for check_id, p in checks)))

    async def _maybe_prune(self, now: datetime) -> None:
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        cutoff = now - timedelta(days=self.settings.retention_days)
        gone = await runner.prune(self.runtime.sessions, cutoff)
        if gone:
            log.info("old health check results pruned", count=gone)

    async def drain(self) -> None:
        """Wait for the slots started so far (tests, benchmarks)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Let running slots finish for up to `grace_seconds`, then cancel the rest (their
        slots are skipped: the claim already moved each check on)."""
        if not self._tasks:
            return
        _done, late = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def pool_of(runtime: Runtime) -> CheckPool:
    """The process's pool, made on first use."""
    pool = runtime.extras.get(EXTRAS_KEY)
    if pool is None:
        pool = runtime.extras[EXTRAS_KEY] = CheckPool(runtime)
    assert isinstance(pool, CheckPool)
    return pool


async def stop(runtime: Runtime) -> None:
    """Stop the process's pool, if it ever started (at shutdown)."""
    pool = runtime.extras.pop(EXTRAS_KEY, None)
    if isinstance(pool, CheckPool):
        await pool.close()


@periodic(
    "services.health_checks",
    every=lambda settings: timedelta(seconds=settings.health_checks.tick_seconds),
)
async def run_due_checks(runtime: Runtime) -> None:
    begin = time.perf_counter()
    started = await pool_of(runtime).tick()
    if started:
        log.debug(
            "health checks claimed", count=len(started), ms=(time.perf_counter() - begin) * 1000
        )
