"""The service registry: register, read, change and remove services and the dependencies
between them. No HTTP here; the caller owns the transaction.

Every member of the organisation reads the registry. Changing a service (or what it
depends on) needs the operator role in its owning team (org admins always may), and a
service synced from a catalog document (`managed`) refuses changes by hand.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.auth.scoping import scoped
from loom.auth.service import team_named
from loom.errors import Conflict, FieldIssue, Forbidden, InvalidInput, NotFound
from loom.services import schemas, search_index
from loom.services.models import Service, ServiceDependency

#: Fields a patch may clear (send null); the others need a value.
_NULLABLE = frozenset({"system", "domain", "repository_url", "api_spec_url", "openapi"})


@dataclass(frozen=True)
class ServiceFilter:
    team: str | None = None
    tier: int | None = None
    lifecycle: str | None = None
    tag: str | None = None
    q: str | None = None


def service_out(service: Service) -> schemas.Service:
    """What the API shows of a service."""
    return schemas.Service(
        id=service.id,
        slug=service.slug,
        name=service.name,
        description=service.description,
        team_id=service.team_id,
        lifecycle=service.lifecycle,  # type: ignore[arg-type]
        tier=service.tier,
        system=service.system,
        domain=service.domain,
        repository_url=service.repository_url,
        links=service.links,
        api_spec_url=service.api_spec_url,
        openapi=service.openapi,
        tags=service.tags,
        metadata=service.extra,
        managed=service.managed,
        created_at=service.created_at,
        updated_at=service.updated_at,
    )


def service_data(service: Service) -> dict[str, Any]:
    """`service_out` as JSON data (what its audit entries record)."""
    return service_out(service).model_dump(mode="json")


async def team_id_of(
    session: AsyncSession, principal: Principal, team: str, field: str
) -> uuid.UUID:
    """A team of the caller's organisation, named by slug or id."""
    team_id = await team_named(session, principal, team)
    if team_id is None:
        raise InvalidInput.on(field, f"no team '{team}' in this organisation")
    return team_id


def require_operator(principal: Principal, team_id: uuid.UUID) -> None:
    """Refuse unless the caller may change services owned by `team_id`. The registry is
    readable by all, so a non-member is refused (403), not told 'not found'."""
    if not principal.can_see_team(team_id):
        raise Forbidden("requires the operator role in the team that owns this service")
    principal.require_team_role(team_id, Role.OPERATOR, "team")


def _require_unmanaged(service: Service) -> None:
    if service.managed:
        raise Conflict(
            f"service '{service.slug}' is managed by its catalog document: change it there"
        )


async def get_service(session: AsyncSession, principal: Principal, slug: str) -> Service:
    stmt = scoped(select(Service).where(Service.slug == slug), Service, principal)
    service: Service | None = await session.scalar(stmt)
    if service is None:
        raise NotFound(f"service '{slug}' not found")
    return service


async def _changeable(session: AsyncSession, principal: Principal, slug: str) -> Service:
    service = await get_service(session, principal, slug)
    require_operator(principal, service.team_id)
    _require_unmanaged(service)
    return service


async def services_query(
    session: AsyncSession, principal: Principal, flt: ServiceFilter
) -> Select[Any]:
    stmt = scoped(select(Service), Service, principal)
    if flt.team is not None:
        stmt = stmt.where(Service.team_id == await team_id_of(session, principal, flt.team, "team"))
    if flt.tier is not None:
        stmt = stmt.where(Service.tier == flt.tier)
    if flt.lifecycle is not None:
        stmt = stmt.where(Service.lifecycle == flt.lifecycle)
    if flt.tag is not None:
        stmt = stmt.where(_has_tag(session, flt.tag))
    if flt.q:
        stmt = stmt.where(
            or_(*(col.icontains(flt.q, autoescape=True)
                  for col in (Service.slug, Service.name, Service.description)))
        )  # fmt: skip
    return stmt


def _has_tag(session: AsyncSession, tag: str) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(Service.tags, JSONB).contains([tag])
    each = func.json_each(Service.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == tag))


async def create_service(
    session: AsyncSession, principal: Principal, body: schemas.ServiceCreate
) -> Service:
    team_id = await team_id_of(session, principal, body.team, "team")
    require_operator(principal, team_id)
    taken = await session.scalar(
        select(Service.id).where(Service.org_id == principal.org_id, Service.slug == body.slug)
    )
    taken_error = Conflict(
        f"a service '{body.slug}' already exists", [FieldIssue("slug", "already taken")]
    )
    if taken is not None:
        raise taken_error
    data = body.model_dump(mode="json", exclude={"team", "metadata"})
    service = Service(org_id=principal.org_id, team_id=team_id, extra=body.metadata, **data)
    session.add(service)
    await _flush_or(session, taken_error)
    await search_index.index_service(session, service)
    await audit_service(session, principal, service, "service.create", after=service_data(service))
    return service


async def update_service(
    session: AsyncSession, principal: Principal, slug: str, body: schemas.ServiceUpdate
) -> Service:
    service = await _changeable(session, principal, slug)
    sent = body.model_dump(mode="json", include=body.model_fields_set)
    for key, value in sent.items():
        if value is None and key not in _NULLABLE:
            raise InvalidInput.on(key, "cannot be null")
    if "team" in sent:
        new_team = await team_id_of(session, principal, sent.pop("team"), "team")
        require_operator(principal, new_team)
        sent["team_id"] = str(new_team)
    old = service_data(service)
    if "team_id" in sent:
        service.team_id = uuid.UUID(sent.pop("team_id"))
    for key, value in sent.items():
        setattr(service, "extra" if key == "metadata" else key, value)
    await session.flush()
    await search_index.index_service(session, service)
    new = service_data(service)
    changed = [k for k in new if new[k] != old[k] and k != "updated_at"]
    if changed:
        await audit_service(
            session, principal, service, "service.update",
            before={k: old[k] for k in changed}, after={k: new[k] for k in changed},
        )  # fmt: skip
    return service


async def delete_service(session: AsyncSession, principal: Principal, slug: str) -> None:
    """Remove a service; its dependencies, both ways, go with it."""
    service = await _changeable(session, principal, slug)
    before = service_data(service)
    await search_index.unindex_service(session, service)
    await session.delete(service)
    await session.flush()
    await audit_service(session, principal, service, "service.delete", before=before)


async def _flush_or(session: AsyncSession, conflict: Conflict) -> None:
    """Flush an insert whose uniqueness was checked just before: a concurrent twin that
    won the race makes it the same conflict, not a 500."""
    try:
        await session.flush()
    except IntegrityError:
        raise conflict from None


async def audit_service(
    session: AsyncSession,
    actor: Principal | audit.Actor,
    service: Service,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """An audit entry about `service` (or what hangs on it: its dependencies), by a
    person or by the system (a catalog sync)."""
    await audit.record(
        session, org_id=service.org_id, actor=actor, action=action,
        target_type="service", target_id=service.id, team_id=service.team_id,
        before=before, after=after,
    )  # fmt: skip


def dependency_data(
    dep: ServiceDependency, service_slug: str, target_slug: str | None
) -> dict[str, Any]:
    return schemas.Dependency(
        id=dep.id,
        service=service_slug,
        target=target_slug,
        target_resource=dep.target_resource,
        kind=dep.kind,  # type: ignore[arg-type]
        criticality=dep.criticality,  # type: ignore[arg-type]
        description=dep.description,
        created_at=dep.created_at,
    ).model_dump(mode="json")


async def add_dependency(
    session: AsyncSession, principal: Principal, slug: str, body: schemas.DependencyCreate
) -> dict[str, Any]:
    """Record that service `slug` calls another service or uses an outside resource."""
    service = await _changeable(session, principal, slug)
    if (body.target is None) == (body.target_resource is None):
        raise InvalidInput.on("target", "give exactly one of target and target_resource")
    target: Service | None = None
    if body.target is not None:
        if body.target == slug:
            raise InvalidInput.on("target", "a service cannot depend on itself")
        target = await session.scalar(
            select(Service).where(Service.org_id == principal.org_id, Service.slug == body.target)
        )
        if target is None:
            raise InvalidInput.on("target", f"no service '{body.target}'")
    same = ServiceDependency.service_id == service.id
    duplicate = await session.scalar(
        select(ServiceDependency.id).where(
            same,
            ServiceDependency.target_service_id == target.id
            if target is not None
            else ServiceDependency.target_resource == body.target_resource,
        )
    )
    field = "target" if target is not None else "target_resource"
    duplicate_error = Conflict(
        f"'{slug}' already depends on {body.target or body.target_resource}",
        [FieldIssue(field, "already a dependency")],
    )
    if duplicate is not None:
        raise duplicate_error
    dep = ServiceDependency(
        org_id=principal.org_id,
        service_id=service.id,
        target_service_id=target.id if target is not None else None,
        target_resource=body.target_resource,
        kind=body.kind,
        criticality=body.criticality,
        description=body.description,
    )
    session.add(dep)
    await _flush_or(session, duplicate_error)
    data = dependency_data(dep, slug, body.target)
    await audit_service(session, principal, service, "service.dependency.add", after=data)
    return data


def dependencies_query(service: Service, direction: str) -> Select[Any]:
    """What `service` calls (down), or what calls it (up)."""
    column = (
        ServiceDependency.service_id if direction == "down" else ServiceDependency.target_service_id
    )
    return select(ServiceDependency).where(
        ServiceDependency.org_id == service.org_id, column == service.id
    )


async def describe_dependencies(
    session: AsyncSession, deps: list[ServiceDependency]
) -> list[dict[str, Any]]:
    """`deps` as the API shows them, with the slugs of both ends (one query)."""
    ids = {d.service_id for d in deps} | {d.target_service_id for d in deps if d.target_service_id}
    rows = await session.execute(select(Service.id, Service.slug).where(Service.id.in_(ids)))
    slugs: dict[uuid.UUID | None, str] = {service_id: slug for service_id, slug in rows}
    return [dependency_data(d, slugs[d.service_id], slugs.get(d.target_service_id)) for d in deps]


async def remove_dependency(
    session: AsyncSession, principal: Principal, slug: str, dependency_id: uuid.UUID
) -> None:
    service = await _changeable(session, principal, slug)
    dep = await session.scalar(
        select(ServiceDependency).where(
            ServiceDependency.id == dependency_id, ServiceDependency.service_id == service.id
        )
    )
    if dep is None:
        raise NotFound(f"service '{slug}' has no dependency {dependency_id}")
    [before] = await describe_dependencies(session, [dep])
    await session.delete(dep)
    await session.flush()
    await audit_service(session, principal, service, "service.dependency.remove", before=before)
