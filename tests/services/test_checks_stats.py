"""What checks say over time: availability and latency percentiles per window, a
service's overall health, and every service's health for scorecards and the portal."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from loom.services.check_models import ServiceCheck, ServiceCheckResult
from loom.services.checks import stats
from loom.services.checks.schemas import CheckStatus
from loom.services.checks.status import worst
from loom.settings import Settings
from tests.conftest import Tenant
from tests.services.check_support import add_check, check_settings
from tests.services.support import SERVICES, register


@pytest.fixture
def settings(database_url: str) -> Settings:
    return check_settings(database_url)


async def add_results(app: FastAPI, check_id: str, runs: list[tuple[timedelta, int, bool]]) -> None:
    """Results started `age` ago (from now), with a duration and ok."""
    now = stats.utcnow()
    async with app.state.runtime.sessions() as s, s.begin():
        check = await s.get(ServiceCheck, uuid.UUID(check_id))
        assert check is not None
        for age, duration, ok in runs:
            s.add(ServiceCheckResult(
                org_id=check.org_id, check_id=check.id, scheduled_at=now - age,
                started_at=now - age, duration_ms=duration, ok=ok,
                outcome="passing" if ok else "failing",
            ))  # fmt: skip


async def set_status(app: FastAPI, check_id: str, status: str) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        await s.execute(
            update(ServiceCheck).where(ServiceCheck.id == uuid.UUID(check_id)).values(status=status)
        )


def test_percentiles_are_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (stats.percentile(values, 0.5), stats.percentile(values, 0.95)) == (50, 95)
    assert stats.percentile([7], 0.95) == 7
    assert stats.percentile([], 0.5) is None


def test_worst_status_wins_and_unknown_only_alone() -> None:
    assert worst([CheckStatus.PASSING, CheckStatus.DEGRADED]) == CheckStatus.DEGRADED
    assert worst([CheckStatus.UNKNOWN, CheckStatus.PASSING]) == CheckStatus.PASSING
    assert worst([CheckStatus.FAILING, CheckStatus.DEGRADED]) == CheckStatus.FAILING
    assert worst([]) == CheckStatus.UNKNOWN


async def test_windows_count_only_their_own_runs(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ops = tenant.headers["operator-a"]
    await register(client, ops, "orders")
    check = await add_check(client, ops, "orders", "https://orders.test/health")
    hour, day = timedelta(hours=1), timedelta(days=1)
    await add_results(
        app, check["id"],
        # Last 24 h: 20 runs, 1 down, 10..200 ms.
        [(hour + timedelta(minutes=i), 10 * (i + 1), i != 0) for i in range(20)]
        # 2-6 days ago: 20 runs, 10 down, 1000 ms.
        + [(2 * day + timedelta(hours=i), 1000, i % 2 == 0) for i in range(20)]
        # 20 days ago: 10 runs down; 40 days ago: pruned-to-be, outside every window.
        + [(20 * day + timedelta(minutes=i), 5, False) for i in range(10)]
        + [(40 * day, 99999, False)],
    )  # fmt: skip
    health = await client.get(f"{SERVICES}/orders/health", headers=tenant.headers["viewer-b"])
    assert health.status_code == 200
    [windows] = [c["windows"] for c in health.json()["checks"]]
    assert windows["24h"] == {"availability": 95.0, "p50_ms": 100, "p95_ms": 190, "samples": 20}
    assert windows["7d"] == {"availability": 72.5, "p50_ms": 200, "p95_ms": 1000, "samples": 40}
    assert windows["30d"]["samples"] == 50
    assert windows["30d"]["availability"] == 58.0
    assert windows["30d"]["p95_ms"] == 1000


async def test_overall_health_is_the_worst_enabled_check(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ops = tenant.headers["operator-a"]
    await register(client, ops, "orders")
    await register(client, ops, "billing")
    await register(client, ops, "quiet")
    empty = await client.get(f"{SERVICES}/quiet/health", headers=ops)
    assert empty.json() == {"status": "unknown", "checks": []}
    a = await add_check(client, ops, "orders", "https://orders.test/a", name="a")
    b = await add_check(client, ops, "orders", "https://orders.test/b", name="b")
    off = await add_check(client, ops, "orders", "https://orders.test/c", name="c", enabled=False)
    c = await add_check(client, ops, "billing", "https://billing.test/a", name="a")
    await set_status(app, a["id"], "passing")
    await set_status(app, b["id"], "degraded")
    await set_status(app, off["id"], "failing")  # disabled: does not count
    await set_status(app, c["id"], "failing")
    health = (await client.get(f"{SERVICES}/orders/health", headers=ops)).json()
    assert health["status"] == "degraded"
    assert [(x["name"], x["status"]) for x in health["checks"]] == [
        ("a", "passing"), ("b", "degraded"), ("c", "failing"),
    ]  # fmt: skip
    assert health["checks"][0]["windows"]["24h"]["samples"] == 0
    async with app.state.runtime.sessions() as s:
        by_service = await stats.health_by_service(s, tenant.org_id)
    ids = {
        slug: (await client.get(f"{SERVICES}/{slug}", headers=ops)).json()["id"]
        for slug in ("orders", "billing")
    }
    assert {str(k): v for k, v in by_service.items()} == {
        ids["orders"]: "degraded", ids["billing"]: "failing",
    }  # fmt: skip
