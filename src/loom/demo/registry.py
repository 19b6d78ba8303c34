"""The demo's service registry data: deployments (releases.py) and health checks for the
sample services, which exist only once the catalog sync has made them from
examples/catalog/services. So this runs after the initial sync of `make serve`
(`seed_after`), not with the rest of the demo seed.

The checks call the demo's check target (target.py): most are green, fraud-check is
slow (degraded: over its 500 ms threshold), recommendations is broken (failing) and
search-api flaky. Safe to run on every start: a service that has deployments gets no
more, a check that exists (by name) is not made again, only pointed at the target's
current address if the target had to take another port.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.models import Team
from loom.catalog.sync import catalog_org
from loom.db.types import utcnow
from loom.demo import incidents, releases, target
from loom.platform.runtime import Runtime
from loom.services.check_models import ServiceCheck
from loom.services.checks.schemas import CheckCreate
from loom.services.checks.service import audit_check, check_out
from loom.services.deployments import record_deployment
from loom.services.models import Service, ServiceDeployment

log = structlog.get_logger("loom.demo")
ACTOR = audit.Actor.system("demo")
TASK_KEY = "demo_registry_task"
CHECK_NAME = "health"
LATENCY_THRESHOLD_MS = 500
#: First runs a little apart, so the checks keep running at different seconds.
STAGGER = timedelta(seconds=3)
#: The target's endpoint each sample service's check calls (and how it judges it); the
#: catalog indexer and the legacy reports have no check (a batch job, a retiring service).
CHECKS: dict[str, tuple[str, dict[str, Any]]] = {
    "api-gateway": ("/healthy", {}),
    "auth": ("/healthy", {"body_contains": "ok"}),
    "cart": ("/healthy", {}),
    "checkout-web": ("/healthy", {"method": "HEAD"}),
    "customer-profile": ("/healthy", {}),
    "fraud-check": ("/slow", {}),
    "inventory": ("/healthy", {}),
    "ledger": ("/version", {"json_path": "$.status", "json_expected": "ok"}),
    "notifications": ("/healthy", {}),
    "orders": ("/version", {"json_path": "$.status", "json_expected": "ok"}),
    "payments-api": ("/version", {"json_path": "$.status", "json_expected": "ok"}),
    "payouts": ("/healthy", {}),
    "pricing": ("/healthy", {}),
    "recommendations": ("/broken", {}),
    "search-api": ("/flaky", {}),
}
#: The sample services (examples/catalog/services): only they get made-up history, never
#: a service someone registered in the demo.
SAMPLES = (*CHECKS, "catalog-indexer", "legacy-reports")


def seed_after(runtime: Runtime, sync: asyncio.Task[Any]) -> asyncio.Task[None]:
    """Seed once `sync` (the initial catalog sync, in the background) is done."""

    async def run() -> None:
        await asyncio.wait([sync])
        try:
            await seed(runtime)
        except Exception:
            log.exception("demo registry data failed")

    task = runtime.extras[TASK_KEY] = asyncio.create_task(run())
    return task


async def seed(runtime: Runtime) -> None:
    """Deployments and checks for the sample services there are (none: nothing to do)."""
    server = runtime.extras.get(target.EXTRAS_KEY)
    base = server.url if server is not None else None
    async with runtime.sessions() as session, session.begin():
        org_id = await catalog_org(session, runtime)
        made = await seed_services(session, org_id, base)
    if any(made.values()):
        log.info("demo registry data added", **made)
    async with runtime.sessions() as session, session.begin():
        org_id = await catalog_org(session, runtime)
        if await incidents.seed(session, org_id, runtime.settings.incidents, utcnow()):
            log.info("demo incidents added")


async def seed_services(
    session: AsyncSession, org_id: uuid.UUID, target_url: str | None
) -> dict[str, int]:
    """Deployments and checks (calling `target_url`, if any) for the organisation's
    sample services; how many of each were made."""
    stmt = (
        select(Service, Team.slug)
        .join(Team, Team.id == Service.team_id)
        .where(Service.org_id == org_id, Service.slug.in_(SAMPLES))
    )
    made = {"deployments": 0, "checks": 0}
    for service, team in (await session.execute(stmt)).all():
        index = sorted(SAMPLES).index(service.slug)
        made["deployments"] += await _deploy(session, service, team, index)
        if target_url is not None and service.slug in CHECKS:
            made["checks"] += await _check(session, service, target_url, STAGGER * index)
    return made


async def _deploy(session: AsyncSession, service: Service, team: str, index: int) -> int:
    deployed = await session.scalar(
        select(exists().where(ServiceDeployment.service_id == service.id))
    )
    if deployed:
        return 0
    history = releases.releases(service.slug, team, index, utcnow())
    for r in history:
        await record_deployment(
            session, ACTOR, service, environment=r.environment, version=r.version,
            commit_sha=r.commit_sha, deployed_at=r.deployed_at, deployed_by=r.deployed_by,
            description=r.description,
        )  # fmt: skip
    return len(history)


async def _check(session: AsyncSession, service: Service, base: str, later: timedelta) -> int:
    path, options = CHECKS[service.slug]
    url = f"{base}{path}"
    found = await session.scalar(
        select(ServiceCheck).where(
            ServiceCheck.service_id == service.id, ServiceCheck.name == CHECK_NAME
        )
    )
    if found is not None:
        await _repoint(session, service, found, url)
        return 0
    body = CheckCreate(
        name=CHECK_NAME, url=url, environment="production",
        latency_threshold_ms=LATENCY_THRESHOLD_MS, timeout_seconds=5, **options,
    )  # fmt: skip
    now = utcnow()
    check = ServiceCheck(
        org_id=service.org_id, service_id=service.id, next_run_at=now + later, status_since=now,
        status="unknown", **body.model_dump(mode="json"),
    )  # fmt: skip
    session.add(check)
    await session.flush()
    after = check_out(check, service.slug).model_dump(
        mode="json", exclude={"next_run_at", "status", "status_since", "last_result"}
    )
    await audit_check(session, ACTOR, service, check, "service.check.create", after=after)
    return 1


async def _repoint(session: AsyncSession, service: Service, check: ServiceCheck, url: str) -> None:
    """A demo check still calling the target, on the port it had at an earlier start."""
    old, new = httpx.URL(check.url), httpx.URL(url)
    if old.host != new.host or old.path != new.path or old.port == new.port:
        return
    before = check.url
    check.url = url
    await session.flush()
    await audit_check(session, ACTOR, service, check, "service.check.update",
                      before={"url": before}, after={"url": url})  # fmt: skip
