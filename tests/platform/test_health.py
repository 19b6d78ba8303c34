"""Liveness, readiness and version: what load balancers and operators see."""

from __future__ import annotations

import time

import httpx
from fastapi import FastAPI

from loom import __version__
from loom.db.migrate import downgrade, head_revision
from loom.platform.health import readiness, stale_after_seconds
from loom.platform.runtime import Runtime
from tests.conftest import make_settings


async def test_liveness_answers_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_lists_database_and_migrations_checks(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"] == {"ok": True, "detail": f"at head {head_revision()}"}


async def test_ready_is_503_naming_migrations_when_the_database_is_behind(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await downgrade(app.state.runtime.engine, "base")
    response = await client.get("/api/v1/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"]["ok"] is True
    migrations = body["checks"]["migrations"]
    assert migrations["ok"] is False
    assert "loom db upgrade" in migrations["detail"]
    assert str(head_revision()) in migrations["detail"]


async def test_ready_is_503_when_a_component_heartbeat_is_stale(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime: Runtime = app.state.runtime
    runtime.beat("workers")
    assert (await client.get("/api/v1/health/ready")).status_code == 200

    runtime.heartbeats["workers"] = time.monotonic() - stale_after_seconds(runtime) - 1
    response = await client.get("/api/v1/health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["workers"]["ok"] is False
    assert checks["database"]["ok"] is True and checks["migrations"]["ok"] is True

    runtime.forget("workers")  # a component stopped on purpose no longer counts
    assert (await client.get("/api/v1/health/ready")).status_code == 200


async def test_unreachable_database_fails_readiness_without_raising() -> None:
    runtime = Runtime.build(make_settings("sqlite+aiosqlite:////nonexistent-dir/loom.db"))
    try:
        checks = await readiness(runtime)
    finally:
        await runtime.close()
    assert [(c.name, c.ok) for c in checks] == [("database", False)]
    assert checks[0].detail.startswith("unreachable")


async def test_version_says_what_is_running(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/version")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == __version__
    assert body["python"].count(".") == 2
    assert body["database"] == app.state.runtime.engine.dialect.name
    assert body["uptime_seconds"] >= 0
