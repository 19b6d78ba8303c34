"""Running checks on schedule: claims, slots, concurrency across ticks, status changes
and their events, retention. The pool's clock is the test's."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from loom.demo.fakes.server import FakeServer, Reply
from loom.platform.scheduler import JOBS
from loom.services.check_models import ServiceCheck, ServiceCheckResult, ServiceEvent
from loom.services.checks import runner
from loom.services.checks.scheduler import CheckPool
from loom.settings import Settings
from tests.conftest import Tenant
from tests.services.check_support import (
    T0,
    Clock,
    Concurrency,
    check_settings,
    service_with_checks,
    set_next_run,
    target,
)

__all__ = ["target"]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return check_settings(database_url, concurrency=3, tick_seconds=5)


async def count(app: FastAPI, model: type, **where: object) -> int:
    async with app.state.runtime.sessions() as s:
        stmt = select(func.count()).select_from(model).filter_by(**where)
        return int(await s.scalar(stmt) or 0)


async def next_runs(app: FastAPI) -> dict[uuid.UUID, object]:
    async with app.state.runtime.sessions() as s:
        return dict((await s.execute(select(ServiceCheck.id, ServiceCheck.next_run_at))).all())


async def test_due_checks_run_once_and_move_to_their_next_slot(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, target: FakeServer
) -> None:
    ops = tenant.headers["operator-a"]
    [due, later] = await service_with_checks(
        client, ops, "orders", [target.url + "/healthy", target.url + "/broken"]
    )
    await set_next_run(app, T0 - timedelta(seconds=20))
    async with app.state.runtime.sessions() as s, s.begin():
        await s.execute(
            ServiceCheck.__table__.update()
            .where(ServiceCheck.id == uuid.UUID(later["id"]))
            .values(next_run_at=T0 + timedelta(seconds=30))
        )
    pool = CheckPool(app.state.runtime, now=Clock(T0))
    started = await pool.tick()
    await pool.drain()
    assert len(started) == 1
    assert len(target.calls) == 1 and target.calls[0].path == "/healthy"
    runs = await next_runs(app)
    # From the slot (T0 - 20 s), one interval (60 s) on: not from now.
    assert runs[uuid.UUID(due["id"])] == T0 + timedelta(seconds=40)
    assert runs[uuid.UUID(later["id"])] == T0 + timedelta(seconds=30)
    # The same tick again finds nothing due.
    assert await pool.tick() == []
    assert await count(app, ServiceCheckResult) == 1


async def test_missed_slots_are_skipped_not_run_in_a_burst(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, target: FakeServer
) -> None:
    [check] = await service_with_checks(
        client, tenant.headers["operator-a"], "orders", [target.url + "/healthy"]
    )
    slot = T0 - timedelta(seconds=210)  # 3.5 intervals ago
    await set_next_run(app, slot)
    pool = CheckPool(app.state.runtime, now=Clock(T0))
    assert len(await pool.tick()) == 1
    await pool.drain()
    assert await pool.tick() == []
    assert (await next_runs(app))[uuid.UUID(check["id"])] == slot + timedelta(seconds=240)
    async with app.state.runtime.sessions() as s:
        result = await s.scalar(select(ServiceCheckResult))
    assert result is not None and result.scheduled_at == slot


async def test_concurrent_ticks_run_each_slot_once(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, target: FakeServer
) -> None:
    urls = [target.url + "/healthy"] * 12
    await service_with_checks(client, tenant.headers["operator-a"], "orders", urls)
    await set_next_run(app, T0 - timedelta(seconds=1))
    # Two processes' pools (two replicas) ticking at the same moment.
    pools = [CheckPool(app.state.runtime, now=Clock(T0)) for _ in range(3)]
    started = await asyncio.gather(*(p.tick() for p in pools))
    await asyncio.gather(*(p.drain() for p in pools))
    assert sum(len(s) for s in started) == 12
    assert len(target.calls) == 12
    assert await count(app, ServiceCheckResult) == 12


async def test_concurrency_is_bounded(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, target: FakeServer
) -> None:
    overlap = Concurrency(delay=0.15)
    target.route("GET", "/busy", overlap)
    await service_with_checks(
        client, tenant.headers["operator-a"], "orders", [target.url + "/busy"] * 9
    )
    await set_next_run(app, T0)
    pool = CheckPool(app.state.runtime, now=Clock(T0))
    assert len(await pool.tick()) == 9
    await pool.drain()
    assert overlap.most == 3  # settings: concurrency=3; and they did run side by side


async def test_a_tick_claims_no_more_than_its_batch(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, target: FakeServer
) -> None:
    await service_with_checks(
        client, tenant.headers["operator-a"], "orders", [target.url + "/healthy"] * 5
    )
    await set_next_run(app, T0)
    runtime = app.state.runtime
    runtime.settings = runtime.settings.model_copy(
        update={
            "health_checks": runtime.settings.health_checks.model_copy(update={"batch_size": 2})
        }
    )
    pool = CheckPool(runtime, now=Clock(T0))
    assert len(await pool.tick()) == 2
    await pool.drain()
    assert len(await pool.tick()) == 2


async def test_a_status_change_writes_one_event(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, target: FakeServer
) -> None:
    [check] = await service_with_checks(
        client, tenant.headers["operator-a"], "orders", [target.url + "/flip"]
    )
    target.route("GET", "/flip", Reply(json={"status": "ok"}))
    clock = Clock(T0)
    pool = CheckPool(app.state.runtime, now=clock)
    for answer in (200, 200, 503, 503, 200):
        target.route("GET", "/flip", Reply(answer))
        await set_next_run(app, clock())
        await pool.tick()
        await pool.drain()
        clock.advance(60)
    async with app.state.runtime.sessions() as s:
        events = (await s.scalars(select(ServiceEvent).order_by(ServiceEvent.created_at))).all()
        stored = await s.get(ServiceCheck, uuid.UUID(check["id"]))
    moves = [(e.data["from"], e.data["to"]) for e in events]
    assert moves == [("unknown", "passing"), ("passing", "failing"), ("failing", "passing")]
    failing = events[1]
    assert failing.kind == "health_check.status_changed"
    assert failing.data["check"] == "check-0" and failing.data["check_id"] == check["id"]
    assert failing.data["result"]["status_code"] == 503
    assert failing.consumed_at is None
    assert stored is not None and stored.status == "passing"
    assert stored.status_since == T0 + timedelta(seconds=240)


async def test_old_results_are_pruned(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, target: FakeServer
) -> None:
    [check] = await service_with_checks(
        client, tenant.headers["operator-a"], "orders", [target.url + "/healthy"]
    )
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = (await s.get(ServiceCheck, uuid.UUID(check["id"]))).org_id  # type: ignore[union-attr]
        for days in (31, 29):
            s.add(ServiceCheckResult(
                org_id=org_id, check_id=uuid.UUID(check["id"]),
                scheduled_at=T0 - timedelta(days=days), started_at=T0 - timedelta(days=days),
                duration_ms=5, ok=True, outcome="passing",
            ))  # fmt: skip
    await set_next_run(app, T0 + timedelta(hours=1))
    await CheckPool(app.state.runtime, now=Clock(T0)).tick()
    assert await count(app, ServiceCheckResult) == 1


def test_one_leased_job_ticks_at_the_configured_pace(settings: Settings) -> None:
    [job] = [j for j in JOBS if j.name == "services.health_checks"]
    assert job.interval(settings) == timedelta(seconds=5)


def test_next_slot_counts_from_the_slot() -> None:
    slot = T0
    assert runner.next_slot(slot, 60, T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=60)
    assert runner.next_slot(slot, 60, T0 + timedelta(seconds=125)) == T0 + timedelta(seconds=180)
