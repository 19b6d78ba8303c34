"""The version matrix (services by environments, the version each runs) and the drift
findings over it, read in a fixed number of queries whatever the size of the registry:
the services, their environments, the latest deployment per (service, environment) (a
window function, on SQLite and PostgreSQL alike) and the versions each environment ever
got. The rules themselves are in `drift`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.principal import Principal
from loom.auth.scoping import scoped
from loom.db.types import utcnow
from loom.services import deployment_schemas as schemas
from loom.services.drift import Finding, Running, ServiceState, Stage, find_drift
from loom.services.environments import ensure_environments, environment_named, threshold
from loom.services.models import Environment, Service, ServiceDeployment
from loom.services.service import team_id_of
from loom.settings import ServicesSettings

DEFAULT_THRESHOLD_HOURS: int = ServicesSettings().drift_threshold_hours


@dataclass(frozen=True)
class VersionFilter:
    team: str | None = None
    system: str | None = None
    tier: int | None = None
    #: One service only (its page's versions tab).
    service_id: uuid.UUID | None = None


@dataclass
class _Matrix:
    envs: list[Environment]
    services: list[Service]
    #: (service id, environment id) → the latest deployment's row (with `run_start`).
    latest: dict[tuple[uuid.UUID, uuid.UUID], Row[Any]]
    findings: dict[uuid.UUID, list[Finding]]


async def version_matrix(
    session: AsyncSession,
    principal: Principal,
    flt: VersionFilter,
    default_hours: int = DEFAULT_THRESHOLD_HOURS,
    now: datetime | None = None,
) -> schemas.VersionMatrix:
    """`GET /services/versions`: every service (filtered) with what runs where and its drift."""
    stmt = scoped(select(Service), Service, principal)
    if flt.team is not None:
        stmt = stmt.where(Service.team_id == await team_id_of(session, principal, flt.team, "team"))
    if flt.system is not None:
        stmt = stmt.where(Service.system == flt.system)
    if flt.tier is not None:
        stmt = stmt.where(Service.tier == flt.tier)
    if flt.service_id is not None:
        stmt = stmt.where(Service.id == flt.service_id)
    matrix = await _load(session, principal.org_id, stmt, default_hours, now or utcnow())
    items = []
    for svc in matrix.services:
        versions: dict[str, schemas.DeployedVersion | None] = {}
        for env in matrix.envs:
            row = matrix.latest.get((svc.id, env.id))
            versions[env.slug] = None if row is None else schemas.DeployedVersion(
                version=row.version, deployed_at=row.deployed_at,
                deployed_by=row.deployed_by, commit_sha=row.commit_sha,
            )  # fmt: skip
        items.append(
            schemas.MatrixRow(
                service=svc.slug,
                name=svc.name,
                team_id=svc.team_id,
                tier=svc.tier,
                versions=versions,
                drift=[_out(f) for f in matrix.findings.get(svc.id, [])],
            )
        )
    envs = [schemas.MatrixEnvironment(slug=e.slug, name=e.name, rank=e.rank) for e in matrix.envs]
    return schemas.VersionMatrix(environments=envs, items=items)


async def drift_report(
    session: AsyncSession,
    principal: Principal,
    *,
    team: str | None = None,
    kind: str | None = None,
    environment: str | None = None,
    default_hours: int = DEFAULT_THRESHOLD_HOURS,
    now: datetime | None = None,
) -> schemas.DriftReport:
    """`GET /services/drift`: the organisation's findings by service, then environment rank."""
    stmt = scoped(select(Service), Service, principal)
    if team is not None:
        stmt = stmt.where(Service.team_id == await team_id_of(session, principal, team, "team"))
    if environment is not None:
        await environment_named(session, principal.org_id, environment)
    matrix = await _load(session, principal.org_id, stmt, default_hours, now or utcnow())
    items = [
        _out(f)
        for svc in matrix.services
        for f in matrix.findings.get(svc.id, [])
        if (kind is None or f.kind == kind)
        and (environment is None or f.environment == environment)
    ]
    return schemas.DriftReport(items=items)


async def drifting_services(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    default_hours: int = DEFAULT_THRESHOLD_HOURS,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[Finding]]:
    """The organisation's services with drift (service id → findings); a service without
    drift is absent. For the readiness scorecards' "no drift" rule."""
    stmt = select(Service).where(Service.org_id == org_id)
    matrix = await _load(session, org_id, stmt, default_hours, now or utcnow())
    return matrix.findings


def _out(finding: Finding) -> schemas.DriftFinding:
    return schemas.DriftFinding(
        service=finding.service, environment=finding.environment, kind=finding.kind,
        message=finding.message, version=finding.version,
        reference_environment=finding.reference_environment,
        reference_version=finding.reference_version, since=finding.since,
    )  # fmt: skip


async def _load(
    session: AsyncSession,
    org_id: uuid.UUID,
    services_stmt: Select[Any],
    default_hours: int,
    now: datetime,
) -> _Matrix:
    envs = await ensure_environments(session, org_id)
    services = list((await session.scalars(services_stmt.order_by(Service.slug))).all())
    ids = services_stmt.with_only_columns(Service.id)
    latest = {(r.service_id, r.environment_id): r for r in await session.execute(_latest(ids))}
    seen: dict[tuple[uuid.UUID, uuid.UUID], set[str]] = defaultdict(set)
    d = ServiceDeployment
    history = select(d.service_id, d.environment_id, d.version).where(d.service_id.in_(ids))
    for service_id, env_id, version in await session.execute(history.distinct()):
        seen[service_id, env_id].add(version)
    stages = [Stage(e.slug, e.rank, threshold(e, default_hours)) for e in envs]
    findings: dict[uuid.UUID, list[Finding]] = {}
    for svc in services:
        state = ServiceState(
            service_id=svc.id,
            slug=svc.slug,
            running={
                e.slug: Running(row.version, row.run_start)
                for e in envs
                if (row := latest.get((svc.id, e.id))) is not None
            },
            seen={e.slug: frozenset(seen.get((svc.id, e.id), ())) for e in envs},
        )
        found = find_drift(stages, state, now)
        if found:
            findings[svc.id] = found
    return _Matrix(envs=envs, services=services, latest=latest, findings=findings)


def _latest(service_ids: Any) -> Select[Any]:
    """The newest deployment per (service, environment), with `run_start`: when that
    environment last switched to the version it runs (the newest deployment whose
    version differs from the one before it)."""
    d = ServiceDeployment
    pair = (d.service_id, d.environment_id)
    oldest_first = (d.deployed_at, d.created_at, d.id)
    newest_first = (d.deployed_at.desc(), d.created_at.desc(), d.id.desc())
    numbered = (
        select(
            d.service_id,
            d.environment_id,
            d.version,
            d.deployed_at,
            d.deployed_by,
            d.commit_sha,
            func.lag(d.version).over(partition_by=pair, order_by=oldest_first).label("previous"),
            func.row_number().over(partition_by=pair, order_by=newest_first).label("newest"),
        )
        .where(d.service_id.in_(service_ids))
        .subquery()
    )
    n = numbered.c
    switched = or_(n.previous.is_(None), n.previous != n.version)
    runs = select(
        n.service_id, n.environment_id, n.version, n.deployed_at, n.deployed_by, n.commit_sha,
        n.newest,
        func.max(case((switched, n.deployed_at)))
        .over(partition_by=(n.service_id, n.environment_id))
        .label("run_start"),
    ).subquery()  # fmt: skip
    return select(runs).where(runs.c.newest == 1)
