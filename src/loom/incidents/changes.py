"""Recording changes: one way in for people, pipelines and webhooks (`record_change`).

A change names its service by slug (400 if unknown); a repeat of (source, external_id)
returns the first change; a deployment with service, environment and version also goes
to the registry (`services.deployments.record_deployment`), so the version matrix shows
it, and its previous version defaults to what the matrix showed before. Once stored, the
open incidents whose window it falls in are refreshed (`refresh.refresh_incidents`): its
score joins their related changes and their root-cause ranking, and those it scores
well for get a `change` timeline event. Recording takes the organisation's alert lock
(`pipeline.lock_alerts`) so that it and ingestion never write one incident at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.audit.service import Actor
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.errors import Forbidden, NotFound, RejectedInput
from loom.incidents import correlation
from loom.incidents.change_schemas import ChangeCreate, ChangeFrequencies, ChangeFrequency
from loom.incidents.kinds import OPEN, ChangeSource, ChangeType
from loom.incidents.models import Change, Incident
from loom.incidents.pipeline import lock_alerts
from loom.incidents.refresh import refresh_incidents
from loom.services.deployments import CLOCK_SKEW, record_deployment
from loom.services.environments import environment_named
from loom.services.kinds import DeploymentSource
from loom.services.models import Service, ServiceDeployment
from loom.settings import IncidentSettings

_DEPLOYMENT_SOURCE = {
    ChangeSource.API: DeploymentSource.API,
    ChangeSource.MANUAL: DeploymentSource.API,
    ChangeSource.GITHUB: DeploymentSource.WEBHOOK,
    ChangeSource.JENKINS: DeploymentSource.WEBHOOK,
    ChangeSource.ARGOCD: DeploymentSource.WEBHOOK,
}


def require_recorder(principal: Principal, service: Service | None) -> None:
    """People record changes as operators of the organisation, or of the team that owns
    the service the change names."""
    if principal.org_role >= Role.OPERATOR:
        principal.require_scope("write")
        return
    if service is not None and (principal.role_in(service.team_id) or Role.VIEWER) >= Role.OPERATOR:
        principal.require_scope("write")
        return
    raise Forbidden(
        "recording a change requires the operator role in the organisation "
        "or in the team that owns its service"
    )


async def service_by_slug(session: AsyncSession, org_id: uuid.UUID, slug: str) -> Service:
    found = await session.scalar(
        select(Service).where(Service.org_id == org_id, Service.slug == slug)
    )
    if found is None:
        raise RejectedInput.on("service", f"no service '{slug}' in the registry")
    return found


async def _previous_version(
    session: AsyncSession, service: Service, environment: str
) -> str | None:
    env = await environment_named(session, service.org_id, environment)
    d = ServiceDeployment
    return await session.scalar(
        select(d.version)
        .where(d.service_id == service.id, d.environment_id == env.id)
        .order_by(d.deployed_at.desc(), d.created_at.desc(), d.id.desc())
        .limit(1)
    )


async def _first(
    session: AsyncSession, org_id: uuid.UUID, source: ChangeSource, external_id: str | None
) -> Change | None:
    if external_id is None:
        return None
    return await session.scalar(
        select(Change).where(
            Change.org_id == org_id, Change.source == source.value,
            Change.external_id == external_id,
        )
    )  # fmt: skip


async def record_change(
    session: AsyncSession,
    actor: Principal | Actor,
    org_id: uuid.UUID,
    data: ChangeCreate,
    *,
    source: ChangeSource,
    now: datetime,
    settings: IncidentSettings | None = None,
) -> Change:
    """Store `data` (audited `change.create`), or return the change it repeats."""
    settings = settings or IncidentSettings()
    first = await _first(session, org_id, source, data.external_id)
    if first is not None:
        return first
    if data.happened_at is not None and data.happened_at > now + CLOCK_SKEW:
        raise RejectedInput.on("happened_at", "is in the future")
    service = await service_by_slug(session, org_id, data.service) if data.service else None
    if isinstance(actor, Principal):
        require_recorder(actor, service)
    # Incidents it may relate to are refreshed below: one writer of them at a time, and
    # the lock taken before this transaction writes anything (no lock-order deadlock).
    await lock_alerts(session, org_id)
    author = data.author or (actor.email if isinstance(actor, Principal) else actor.name)
    happened_at = data.happened_at or now
    change = Change(
        org_id=org_id, type=data.type.value, source=source.value, external_id=data.external_id,
        service_id=service.id if service else None, environment=data.environment,
        version=data.version, previous_version=data.previous_version, title=data.title,
        description=data.description, author=author[:320], happened_at=happened_at,
        url=str(data.url) if data.url is not None else None, created_at=now,
    )  # fmt: skip
    deploys = data.type is ChangeType.DEPLOYMENT and service and data.environment and data.version
    if deploys:
        assert service is not None and data.environment and data.version
        if change.previous_version is None:
            change.previous_version = await _previous_version(session, service, data.environment)
    try:
        # A delivery racing this one with the same external id: its change wins.
        async with session.begin_nested():
            session.add(change)
            await session.flush()
    except IntegrityError:
        first = await _first(session, org_id, source, data.external_id)
        if first is None:
            raise
        return first
    if deploys:
        assert service is not None and data.environment and data.version
        dep = await record_deployment(
            session, actor, service, environment=data.environment, version=data.version,
            commit_sha=data.commit_sha, deployed_at=happened_at, deployed_by=author,
            url=change.url, description=data.title or data.description[:500],
            source=_DEPLOYMENT_SOURCE[source], now=now,
        )  # fmt: skip
        change.deployment_id = dep.id
        await session.flush()
    await audit.record(
        session, org_id=org_id, actor=actor, action="change.create", target_type="change",
        target_id=change.id, team_id=service.team_id if service else None,
        after={
            "type": change.type, "source": change.source, "service": data.service,
            "environment": change.environment, "version": change.version,
            "previous_version": change.previous_version, "external_id": change.external_id,
            "happened_at": happened_at.isoformat(),
        },
    )  # fmt: skip
    await _refresh_open_incidents(session, change, settings=settings, now=now)
    return change


async def _refresh_open_incidents(
    session: AsyncSession, change: Change, *, settings: IncidentSettings, now: datetime
) -> None:
    """Open incidents whose window holds the change: refreshed, so their related changes
    (and the root-cause ranking that reads them) count it. Those it scores for enough
    get a `change` event on their timeline."""
    window = correlation.window_of(settings)
    incidents = (
        await session.scalars(
            select(Incident).where(
                Incident.org_id == change.org_id,
                Incident.status.in_([s.value for s in OPEN]),
                Incident.opened_at <= change.happened_at + window,
                Incident.last_alert_at >= change.happened_at,
            )
        )
    ).all()
    await refresh_incidents(
        session, incidents, settings=settings, now=now, correlate=True, recount=False
    )


async def get_change(session: AsyncSession, principal: Principal, change_id: uuid.UUID) -> Change:
    found = await session.scalar(
        select(Change).where(Change.org_id == principal.org_id, Change.id == change_id)
    )
    if found is None:
        raise NotFound(f"change '{change_id}' not found")
    return found


async def frequency(
    session: AsyncSession, principal: Principal, *, now: datetime
) -> ChangeFrequencies:
    """Changes per service over the last 7 and 30 days, in one grouped query."""
    week, month = now - timedelta(days=7), now - timedelta(days=30)
    in_week = func.sum(case((Change.happened_at >= week, 1), else_=0))
    rows = await session.execute(
        select(Service.slug, in_week, func.count(Change.id))
        .select_from(Change)
        .outerjoin(Service, Service.id == Change.service_id)
        .where(Change.org_id == principal.org_id, Change.happened_at >= month)
        .group_by(Service.slug)
    )
    items = [
        ChangeFrequency(service=slug, last_7_days=int(week_n or 0), last_30_days=int(month_n))
        for slug, week_n, month_n in rows
    ]
    items.sort(key=lambda i: (-i.last_30_days, -i.last_7_days, i.service or "\uffff"))
    return ChangeFrequencies(items=items, since_7_days=week, since_30_days=month)
