"""Health-check status changes (service events) become health-check alerts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from loom.incidents import health_events
from loom.incidents.models import Alert
from loom.platform.scheduler import JOBS
from loom.services.check_models import ServiceEvent
from loom.services.checks.runner import STATUS_CHANGED
from loom.services.models import Service
from tests.conftest import Tenant
from tests.services.support import register

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


async def change(
    app: FastAPI, slug: str, old: str, new: str, at: datetime, check: str = "http"
) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        service = await s.scalar(select(Service).where(Service.slug == slug))
        assert service is not None
        s.add(ServiceEvent(
            org_id=service.org_id, service_id=service.id, kind=STATUS_CHANGED,
            data={"check_id": str(uuid.uuid4()), "check": check, "from": old, "to": new,
                  "result": {"message": f"now {new}", "outcome": new}},
            created_at=at,
        ))  # fmt: skip


async def consume(app: FastAPI, at: datetime) -> int:
    runtime = app.state.runtime
    return await health_events.consume(runtime.sessions, runtime.settings.incidents, now=at)


async def alerts(app: FastAPI) -> list[Alert]:
    async with app.state.runtime.sessions() as s:
        return list(await s.scalars(select(Alert).order_by(Alert.first_seen)))


def test_the_job_is_registered() -> None:
    job = next(j for j in JOBS if j.name == "incidents.health_events")
    assert job.every == timedelta(seconds=5)


async def test_status_changes_fire_and_resolve_one_alert(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant, app: FastAPI
) -> None:
    await register(client, admin_headers, "api")
    await change(app, "api", "passing", "degraded", T0)
    await change(app, "api", "degraded", "failing", T0 + timedelta(seconds=30))
    assert await consume(app, T0 + timedelta(minutes=1)) == 2
    (alert,) = await alerts(app)
    assert alert.fingerprint == "health:api:http"
    assert (alert.status, alert.severity, alert.count) == ("firing", "critical", 2)
    assert alert.source_kind == "health_check" and alert.source_id is None
    assert alert.labels["alertname"] == "HealthCheckFailing" and alert.labels["check"] == "http"
    assert alert.summary == "now failing"
    assert alert.service_id is not None and alert.incident_id is not None
    assert await consume(app, T0 + timedelta(minutes=2)) == 0  # consumed once

    await change(app, "api", "failing", "passing", T0 + timedelta(minutes=3))
    assert await consume(app, T0 + timedelta(minutes=3)) == 1
    (alert,) = await alerts(app)
    assert alert.status == "resolved" and alert.ends_at == T0 + timedelta(minutes=3)
    async with app.state.runtime.sessions() as s:
        pending = await s.scalars(select(ServiceEvent).where(ServiceEvent.consumed_at.is_(None)))
        assert list(pending) == []


async def test_unknown_status_is_consumed_without_an_alert(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant, app: FastAPI
) -> None:
    await register(client, admin_headers, "api")
    await change(app, "api", "failing", "unknown", T0)
    assert await consume(app, T0) == 1
    assert await alerts(app) == []


async def test_checks_of_two_services_make_two_alerts(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant, app: FastAPI
) -> None:
    for slug in ("api", "db"):
        await register(client, admin_headers, slug)
        await change(app, slug, "passing", "failing", T0)
    await consume(app, T0)
    found: dict[str, Any] = {a.fingerprint: a for a in await alerts(app)}
    assert sorted(found) == ["health:api:http", "health:db:http"]
    assert found["health:api:http"].service_id != found["health:db:http"].service_id
