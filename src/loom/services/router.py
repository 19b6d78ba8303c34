"""Service registry endpoints: services, their dependencies, and dependency graphs.

The whole-system graph is `/service-graph`, apart from `/services/{slug}`, so no slug
can shadow it (or be shadowed by it).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from loom.api.deps import CurrentPrincipal, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.services import graph, schemas, service
from loom.services.kinds import Lifecycle
from loom.services.models import Service, ServiceDependency

router = APIRouter(prefix="/services", tags=["services"])
graph_router = APIRouter(prefix="/service-graph", tags=["services"])


@router.get("", responses={200: {"model": Page[schemas.Service]}})
async def list_services(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    team: Annotated[str | None, Query(description="Owning team, by slug or id")] = None,
    tier: Annotated[int | None, Query(ge=1, le=3)] = None,
    lifecycle: Lifecycle | None = None,
    tag: str | None = None,
    q: Annotated[str | None, Query(description="Text in the slug, name or description")] = None,
) -> dict[str, Any]:
    """The organisation's services, by slug."""
    flt = service.ServiceFilter(team=team, tier=tier, lifecycle=lifecycle, tag=tag, q=q)
    async with session.begin():
        stmt = await service.services_query(session, principal, flt)
        rows, cursor = await paginate(
            session, stmt, [Service.slug, Service.id], page, descending=False
        )
        items = [service.service_out(r) for r in rows]
    return page_body(items, cursor, page)


@router.post("", response_model=schemas.Service, status_code=status.HTTP_201_CREATED)
async def create_service(
    body: schemas.ServiceCreate, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Service:
    """Register a service (operators of the owning team). Accepts an Idempotency-Key."""
    async with session.begin():
        return service.service_out(await service.create_service(session, principal, body))


@router.get("/{slug}", response_model=schemas.Service)
async def get_service(
    slug: str, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Service:
    async with session.begin():
        return service.service_out(await service.get_service(session, principal, slug))


@router.patch("/{slug}", response_model=schemas.Service)
async def update_service(
    slug: str, body: schemas.ServiceUpdate, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Service:
    """Change the fields sent (null clears an optional one)."""
    async with session.begin():
        return service.service_out(await service.update_service(session, principal, slug, body))


@router.delete("/{slug}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_service(slug: str, principal: CurrentPrincipal, session: SessionDep) -> Response:
    """Remove a service and every dependency from or to it."""
    async with session.begin():
        await service.delete_service(session, principal, slug)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{slug}/dependencies", responses={200: {"model": Page[schemas.Dependency]}})
async def list_dependencies(
    slug: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    direction: Annotated[
        Literal["down", "up"], Query(description="down: what it calls; up: what calls it")
    ] = "down",
) -> dict[str, Any]:
    async with session.begin():
        found = await service.get_service(session, principal, slug)
        rows, cursor = await paginate(
            session,
            service.dependencies_query(found, direction),
            [ServiceDependency.created_at, ServiceDependency.id],
            page,
            descending=False,
        )
        items = await service.describe_dependencies(session, rows)
    return page_body([schemas.Dependency(**i) for i in items], cursor, page)


@router.post(
    "/{slug}/dependencies", response_model=schemas.Dependency, status_code=status.HTTP_201_CREATED
)
async def add_dependency(
    slug: str, body: schemas.DependencyCreate, principal: CurrentPrincipal, session: SessionDep
) -> dict[str, Any]:
    """Record what the service calls: another service (`target`) or an outside resource
    (`target_resource`). Accepts an Idempotency-Key."""
    async with session.begin():
        return await service.add_dependency(session, principal, slug, body)


@router.delete("/{slug}/dependencies/{dependency_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_dependency(
    slug: str, dependency_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    async with session.begin():
        await service.remove_dependency(session, principal, slug, dependency_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{slug}/graph", response_model=schemas.Graph)
async def service_graph(
    slug: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    depth: Annotated[int, Query(description=f"Hops, 1 to {graph.MAX_DEPTH}")] = 2,
    direction: Annotated[
        str, Query(description="up (what calls it), down (what it calls) or both")
    ] = "both",
) -> schemas.Graph:
    """The services around this one, the dependencies between them, and any loops.
    Depth and direction are checked by the graph query (a 400 naming the parameter)."""
    async with session.begin():
        return await graph.neighbourhood(session, principal, slug, depth, direction)


@graph_router.get("", response_model=schemas.Graph)
async def system_graph(principal: CurrentPrincipal, session: SessionDep) -> schemas.Graph:
    """Every service of the organisation, every dependency, and any loops."""
    async with session.begin():
        return await graph.system_graph(session, principal)
