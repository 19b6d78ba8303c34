"""Health probes, version and Prometheus metrics.

The probes and /version answer without credentials (load balancers and orchestrators
call them); /metrics needs an API token unless `telemetry.metrics_public` is set.
"""

from __future__ import annotations

import platform
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from loom import __version__
from loom.api.deps import RuntimeDep, authenticate
from loom.platform.health import readiness

router = APIRouter(tags=["platform"])
metrics_router = APIRouter(include_in_schema=False)


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


@router.get("/health/ready", responses={503: {"description": "not ready"}})
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: database reachable, migrations current, background components alive.

    The same body either way, 200 or 503: every check with `ok` and a `detail` line, and
    `breakers`, the state of each circuit breaker of outgoing calls ("jira:main
    acme.atlassian.net": "open"). An open circuit is shown, not counted: a remote system
    being down does not stop Loom from serving.
    """
    checks = await readiness(runtime)
    ok = all(c.ok for c in checks)
    body: dict[str, Any] = {
        "status": "ok" if ok else "fail",
        "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        "breakers": runtime.breaker_states(),
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/version")
async def version(runtime: RuntimeDep) -> dict[str, Any]:
    """What is running: Loom's version, Python's, the database kind, and the uptime."""
    return {
        "version": __version__,
        "python": platform.python_version(),
        "database": runtime.engine.dialect.name,
        "uptime_seconds": round(time.monotonic() - runtime.started_at, 1),
    }


@metrics_router.get("/metrics")
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    """Prometheus exposition. Needs an API token unless telemetry.metrics_public is set."""
    if not runtime.settings.telemetry.metrics_public:
        async with runtime.sessions() as session:
            await authenticate(request, session)
    return Response(generate_latest(runtime.registry), media_type=CONTENT_TYPE_LATEST)
