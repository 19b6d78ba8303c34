"""Deployments: which version of a service went to which environment, when, by whom,
from which commit. History is append-only; the newest row per (service, environment)
is what runs there now.

`record_deployment` is the one way in, for the API and for the change webhooks of the
incidents domain alike: it checks the data, not the caller (the API checks the caller
first; a webhook has authenticated its sender and acts as a system `Actor`). Deployments
are operational facts, so a service managed by its catalog document still takes them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.audit.service import Actor
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.errors import RejectedInput
from loom.services import deployment_schemas as schemas
from loom.services.environments import ensure_environments, environment_named
from loom.services.kinds import DeploymentSource
from loom.services.models import Service, ServiceDeployment
from loom.services.service import get_service, require_operator

#: Clocks of deploy tools disagree a little with ours; more than this ahead is a mistake.
CLOCK_SKEW = timedelta(minutes=1)
MAX_VERSION = 200


def deployment_out(dep: ServiceDeployment, service: str, environment: str) -> schemas.Deployment:
    return schemas.Deployment(
        id=dep.id,
        service=service,
        environment=environment,
        version=dep.version,
        commit_sha=dep.commit_sha,
        deployed_at=dep.deployed_at,
        deployed_by=dep.deployed_by,
        source=dep.source,
        url=dep.url,
        description=dep.description,
        created_at=dep.created_at,
    )


async def record_deployment(
    session: AsyncSession,
    actor: Principal | Actor,
    service: Service,
    *,
    environment: str,
    version: str,
    commit_sha: str | None = None,
    deployed_at: datetime | None = None,
    deployed_by: str | None = None,
    url: str | None = None,
    description: str = "",
    source: DeploymentSource = DeploymentSource.API,
    now: datetime | None = None,
) -> ServiceDeployment:
    """Append a deployment of `service` (audited as `service.deploy`). Bad data is a 400
    naming the field: an unknown environment, an empty version, a time in the future."""
    now = now or utcnow()
    env = await environment_named(session, service.org_id, environment)
    version = version.strip()
    if not 1 <= len(version) <= MAX_VERSION:
        raise RejectedInput.on("version", f"1 to {MAX_VERSION} characters")
    if deployed_at is not None and deployed_at.tzinfo is None:
        raise RejectedInput.on("deployed_at", "needs a time zone")
    if deployed_at is not None and deployed_at > now + CLOCK_SKEW:
        raise RejectedInput.on("deployed_at", "is in the future")
    who = deployed_by or (actor.email if isinstance(actor, Principal) else actor.name)
    dep = ServiceDeployment(
        org_id=service.org_id,
        service_id=service.id,
        environment_id=env.id,
        version=version,
        commit_sha=commit_sha,
        deployed_at=deployed_at or now,
        deployed_by=who[:320],
        source=source,
        url=url,
        description=description,
        created_at=now,
    )
    session.add(dep)
    await session.flush()
    await audit.record(
        session, org_id=service.org_id, actor=actor, action="service.deploy",
        target_type="service", target_id=service.id, team_id=service.team_id,
        after=deployment_out(dep, service.slug, env.slug).model_dump(mode="json"),
    )  # fmt: skip
    return dep


async def deploy(
    session: AsyncSession, principal: Principal, slug: str, body: schemas.DeploymentCreate
) -> schemas.Deployment:
    """`POST /services/{slug}/deployments`: operators of the owning team record one."""
    service = await get_service(session, principal, slug)
    require_operator(principal, service.team_id)
    dep = await record_deployment(
        session, principal, service,
        environment=body.environment, version=body.version, commit_sha=body.commit_sha,
        deployed_at=body.deployed_at, deployed_by=body.deployed_by,
        url=str(body.url) if body.url is not None else None, description=body.description,
    )  # fmt: skip
    return deployment_out(dep, service.slug, body.environment)


async def deployments_query(
    session: AsyncSession, principal: Principal, slug: str, environment: str | None
) -> tuple[Select[Any], Service, dict[uuid.UUID, str]]:
    """A service's deployments (to one environment, if named), for the caller to order
    and page, with the service and the organisation's environment slugs by id."""
    service = await get_service(session, principal, slug)
    envs = await ensure_environments(session, principal.org_id)
    stmt = select(ServiceDeployment).where(ServiceDeployment.service_id == service.id)
    if environment is not None:
        env = await environment_named(session, principal.org_id, environment)
        stmt = stmt.where(ServiceDeployment.environment_id == env.id)
    return stmt, service, {e.id: e.slug for e in envs}
