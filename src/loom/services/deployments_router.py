"""Endpoints of environments, deployments, the version matrix and drift.

`/services/versions` and `/services/drift` are fixed paths beside `/services/{slug}`:
this router is registered before the services router so they win, and no service may
take those two slugs (see `kinds.RESERVED_SLUGS`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate, paginate_list
from loom.services import deployment_schemas as schemas
from loom.services import deployments, environments, versions
from loom.services.models import ServiceDeployment

router = APIRouter(prefix="/services", tags=["services"])
environments_router = APIRouter(prefix="/environments", tags=["services"])

TeamQuery = Annotated[str | None, Query(description="Owning team, by slug or id")]


@router.get("/versions", response_model=schemas.VersionMatrix)
async def version_matrix(
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    team: TeamQuery = None,
    system: str | None = None,
    tier: Annotated[int | None, Query(ge=1, le=3)] = None,
) -> schemas.VersionMatrix:
    """Services by environments: the version each runs, and each service's drift."""
    flt = versions.VersionFilter(team=team, system=system, tier=tier)
    hours = runtime.settings.services.drift_threshold_hours
    async with session.begin():
        return await versions.version_matrix(session, principal, flt, hours)


@router.get("/drift", response_model=schemas.DriftReport)
async def drift(
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    team: TeamQuery = None,
    kind: schemas.DriftKind | None = None,
    environment: Annotated[str | None, Query(description="Environment slug")] = None,
) -> schemas.DriftReport:
    """The organisation's drift findings, by service then environment rank."""
    hours = runtime.settings.services.drift_threshold_hours
    async with session.begin():
        return await versions.drift_report(
            session, principal, team=team, kind=kind, environment=environment,
            default_hours=hours,
        )  # fmt: skip


@router.get("/{slug}/deployments", responses={200: {"model": Page[schemas.Deployment]}})
async def list_deployments(
    slug: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    environment: Annotated[str | None, Query(description="Environment slug")] = None,
) -> dict[str, Any]:
    """The service's deployment history, newest first."""
    async with session.begin():
        stmt, service, env_slugs = await deployments.deployments_query(
            session, principal, slug, environment
        )
        key = [ServiceDeployment.deployed_at, ServiceDeployment.id]
        rows, cursor = await paginate(session, stmt, key, page)
        items = [deployments.deployment_out(r, service.slug, env_slugs[r.environment_id])
                 for r in rows]  # fmt: skip
    return page_body(items, cursor, page)


@router.post(
    "/{slug}/deployments", response_model=schemas.Deployment, status_code=status.HTTP_201_CREATED
)
async def record_deployment(
    slug: str, body: schemas.DeploymentCreate, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Deployment:
    """Record a deployment (operators of the owning team). Accepts an Idempotency-Key."""
    async with session.begin():
        return await deployments.deploy(session, principal, slug, body)


@environments_router.get("", responses={200: {"model": Page[schemas.Environment]}})
async def list_environments(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    """The organisation's environments in promotion order (dev, staging, production
    unless its admins configured others)."""
    async with session.begin():
        envs = await environments.ensure_environments(session, principal.org_id)
        items = [environments.environment_out(e) for e in envs]
    rows, cursor = paginate_list(items, lambda e: [e.rank], page)
    return page_body(rows, cursor, page)


@environments_router.post(
    "", response_model=schemas.Environment, status_code=status.HTTP_201_CREATED
)
async def create_environment(
    body: schemas.EnvironmentCreate, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Environment:
    """Add an environment (org admins). Accepts an Idempotency-Key."""
    async with session.begin():
        env = await environments.create_environment(session, principal, body)
        return environments.environment_out(env)


@environments_router.patch("/{slug}", response_model=schemas.Environment)
async def update_environment(
    slug: str, body: schemas.EnvironmentUpdate, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Environment:
    async with session.begin():
        env = await environments.update_environment(session, principal, slug, body)
        return environments.environment_out(env)


@environments_router.delete("/{slug}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_environment(
    slug: str, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    """Remove an environment nothing was deployed to (409 otherwise)."""
    async with session.begin():
        await environments.delete_environment(session, principal, slug)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
