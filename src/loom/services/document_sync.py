"""Applying `kind: Service` documents from a catalog sync to the registry.

Precedence: a document wins. Its service is created, or updated over whatever was there
(hand edits included, a hand-registered service of the same slug is taken over), and
marked `managed`, which refuses later edits by hand. A managed service's dependencies
become exactly the document's. Services are upserted first and dependencies second, so
the order of the files does not matter; a dependency on a service neither documented
nor registered is a problem at `spec.dependsOn[i].service`, and the rest still applies.

A document removed from the repository leaves its service in place, with its
dependencies and history, but no longer managed: it can be edited (or deleted) by hand
again. A document that is invalid now, or in a file that cannot be read, changes nothing.
Every change is audited as the sync's actor.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.models import Team
from loom.auth.principal import Principal
from loom.catalog.extensions import KindBatch, KindEntry, KindProblem
from loom.services import search_index
from loom.services.documents import ServiceDocument
from loom.services.models import Service, ServiceDependency
from loom.services.service import audit_service, dependency_data, service_data

Actor = audit.Actor | Principal
_DepKey = tuple[uuid.UUID | None, str | None]


async def apply_services(
    session: AsyncSession, org_id: uuid.UUID, batch: KindBatch, actor: Actor
) -> list[KindProblem]:
    problems: list[KindProblem] = []
    rows = await session.execute(select(Team.slug, Team.id).where(Team.org_id == org_id))
    teams: dict[str, uuid.UUID] = {slug: team_id for slug, team_id in rows}
    existing = {
        s.slug: s for s in await session.scalars(select(Service).where(Service.org_id == org_id))
    }
    applied: list[tuple[KindEntry, Service]] = []
    kept: set[str] = set(batch.rejected)
    for entry in batch.entries:
        team_id = teams.get(entry.owner) if entry.owner else None
        if team_id is None:
            kept.add(entry.id)
            message = (
                f"no team '{entry.owner}' in this organisation"
                if entry.owner
                else "no owner: set metadata.owner or a CODEOWNERS rule for the file"
            )
            problems.append(KindProblem(entry, ("metadata", "owner"), message))
            continue
        service = await _upsert(session, org_id, entry, team_id, existing.get(entry.id), actor)
        existing[entry.id] = service
        applied.append((entry, service))
    ids = {slug: s.id for slug, s in existing.items()}
    current = await _dependencies_of(session, [s.id for _, s in applied])
    for entry, service in applied:
        problems += await _replace_dependencies(
            session, entry, service, ids, current.get(service.id, {}), actor
        )
    if not batch.unreadable:
        documented = {e.id for e in batch.entries} | kept
        for slug, service in existing.items():
            if service.managed and slug not in documented:
                service.managed = False
                await audit_service(session, actor, service, "service.unmanage",
                                    before={"managed": True}, after={"managed": False})  # fmt: skip
    await session.flush()
    return problems


def _values(document: ServiceDocument, team_id: uuid.UUID) -> dict[str, Any]:
    spec = document.spec.model_dump(mode="json", exclude={"depends_on", "metadata"})
    meta = document.metadata
    return {
        **spec,
        "name": meta.name,
        "description": meta.description,
        "tags": list(meta.tags),
        "extra": document.spec.metadata,
        "team_id": team_id,
        "managed": True,
    }


async def _upsert(
    session: AsyncSession,
    org_id: uuid.UUID,
    entry: KindEntry,
    team_id: uuid.UUID,
    service: Service | None,
    actor: Actor,
) -> Service:
    values = _values(entry.document, team_id)
    if service is None:
        service = Service(org_id=org_id, slug=entry.id, **values)
        session.add(service)
        await session.flush()
        await audit_service(session, actor, service, "service.create", after=service_data(service))
        await search_index.index_service(session, service)
        return service
    old = service_data(service)
    for key, value in values.items():
        setattr(service, key, value)
    await session.flush()
    new = service_data(service)
    changed = [k for k in new if new[k] != old[k] and k != "updated_at"]
    if changed:
        before, after = {k: old[k] for k in changed}, {k: new[k] for k in changed}
        await audit_service(session, actor, service, "service.update", before=before, after=after)
        await search_index.index_service(session, service)
    return service


async def _dependencies_of(
    session: AsyncSession, service_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[_DepKey, ServiceDependency]]:
    found: dict[uuid.UUID, dict[_DepKey, ServiceDependency]] = {}
    if not service_ids:
        return found
    deps = await session.scalars(
        select(ServiceDependency).where(ServiceDependency.service_id.in_(service_ids))
    )
    for dep in deps:
        found.setdefault(dep.service_id, {})[(dep.target_service_id, dep.target_resource)] = dep
    return found


async def _replace_dependencies(
    session: AsyncSession,
    entry: KindEntry,
    service: Service,
    ids: dict[str, uuid.UUID],
    current: dict[_DepKey, ServiceDependency],
    actor: Actor,
) -> list[KindProblem]:
    document: ServiceDocument = entry.document
    problems: list[KindProblem] = []
    slugs = {v: k for k, v in ids.items()}
    wanted: set[_DepKey] = set()
    for i, dep in enumerate(document.spec.depends_on):
        target_id = ids.get(dep.service) if dep.service else None
        if dep.service and target_id is None:
            message = f"no service '{dep.service}' (no document, not registered)"
            problems.append(KindProblem(entry, ("spec", "dependsOn", i, "service"), message))
            continue
        key: _DepKey = (target_id, dep.resource)
        wanted.add(key)
        row = current.get(key)
        fields = {"kind": dep.kind.value, "criticality": dep.criticality.value,
                  "description": dep.description}  # fmt: skip
        if row is None:
            row = ServiceDependency(org_id=service.org_id, service_id=service.id,
                                    target_service_id=target_id, target_resource=dep.resource,
                                    **fields)  # fmt: skip
            session.add(row)
            await session.flush()
            after = dependency_data(row, service.slug, dep.service)
            await audit_service(session, actor, service, "service.dependency.add", after=after)
        elif any(getattr(row, k) != v for k, v in fields.items()):
            before = dependency_data(row, service.slug, dep.service)
            for k, v in fields.items():
                setattr(row, k, v)
            await session.flush()
            after = dependency_data(row, service.slug, dep.service)
            await audit_service(session, actor, service, "service.dependency.update",
                                before=before, after=after)  # fmt: skip
    for key, row in current.items():
        if key not in wanted:
            before = dependency_data(row, service.slug, slugs.get(row.target_service_id))  # type: ignore[arg-type]
            await session.delete(row)
            await audit_service(session, actor, service, "service.dependency.remove",
                                before=before)  # fmt: skip
    return problems
