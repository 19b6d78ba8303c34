"""Dependency graph queries: the neighbourhood of a service, the whole system, and the
plain `upstream` / `downstream` sets the incident root-cause analysis builds on.

Direction, everywhere: *down* follows what a service calls (its dependencies), *up*
follows what calls it (its dependents).

The walk is breadth-first, one lean query per ring (plain columns, no ORM objects)
over the indexed `service_id` / `target_service_id` columns, so its cost follows the
size of the neighbourhood, not of the organisation. Loops are allowed: a service is
visited once, and the loops found are reported (`loom.services.cycles`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Iterator
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.models import Team
from loom.auth.principal import Principal
from loom.auth.scoping import scoped
from loom.errors import InvalidInput, NotFound, RejectedInput
from loom.services import schemas
from loom.services.cycles import find_cycles
from loom.services.models import Service, ServiceDependency

MAX_DEPTH = 10
DIRECTIONS = ("up", "down", "both")
#: Ids per IN list: well under the bind-parameter limits of SQLite and asyncpg.
_CHUNK = 2000


class Edge(NamedTuple):
    id: uuid.UUID
    source: uuid.UUID
    target: uuid.UUID | None
    resource: str | None
    kind: str
    criticality: str


_EDGE = (
    ServiceDependency.id,
    ServiceDependency.service_id,
    ServiceDependency.target_service_id,
    ServiceDependency.target_resource,
    ServiceDependency.kind,
    ServiceDependency.criticality,
)
_NODE = (Service.id, Service.slug, Service.name, Service.tier, Service.lifecycle,
         Service.team_id, Team.slug)  # fmt: skip
_NODES = select(*_NODE).join(Team, Team.id == Service.team_id)


def _chunks(ids: Collection[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    ordered = list(ids)
    for at in range(0, len(ordered), _CHUNK):
        yield ordered[at : at + _CHUNK]


async def _ring(
    session: AsyncSession,
    org_id: uuid.UUID,
    ids: Collection[uuid.UUID],
    way: str,
    among: Collection[uuid.UUID] | None = None,
) -> list[Edge]:
    """The dependencies of `ids` (down) or on them (up); with `among`, only those whose
    other end is one of `among`."""
    column, other = (
        (ServiceDependency.service_id, ServiceDependency.target_service_id)
        if way == "down"
        else (ServiceDependency.target_service_id, ServiceDependency.service_id)
    )
    found: list[Edge] = []
    for chunk in _chunks(ids):
        stmt = select(*_EDGE).where(ServiceDependency.org_id == org_id, column.in_(chunk))
        if among is not None:
            stmt = stmt.where(other.in_(list(among)))
        found.extend(Edge(*row) for row in await session.execute(stmt))
    return found


async def _walk(
    session: AsyncSession,
    org_id: uuid.UUID,
    start: Iterable[uuid.UUID],
    hops: int,
    way: str,
    *,
    closing: bool = True,
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, Edge]]:
    """Services within `hops` of `start` going `way` (with their distance), and the edges
    followed. With `closing`, also the edges from the outer ring back to services already
    found, so a loop closing inside the neighbourhood shows."""
    distance = dict.fromkeys(start, 0)
    edges: dict[uuid.UUID, Edge] = {}
    frontier = set(distance)
    for hop in range(1, hops + 1):
        if not frontier:
            break
        ring: set[uuid.UUID] = set()
        for edge in await _ring(session, org_id, frontier, way):
            edges[edge.id] = edge
            other = edge.target if way == "down" else edge.source
            if other is not None and other not in distance:  # None: an outside resource
                distance[other] = hop
                ring.add(other)
        frontier = ring
    if closing and frontier:
        # Only edges back into what was found: a hub's thousands of callers stay unread
        # (filtered here instead when what was found is too many to list in the query).
        found = set(distance) if len(distance) <= _CHUNK else None
        for edge in await _ring(session, org_id, frontier, way, among=found):
            if (edge.target if way == "down" else edge.source) in distance:
                edges[edge.id] = edge
    return distance, edges


def _check(depth: int, direction: str) -> None:
    if not 1 <= depth <= MAX_DEPTH:
        raise RejectedInput.on("depth", f"must be between 1 and {MAX_DEPTH}")
    if direction not in DIRECTIONS:
        raise RejectedInput.on("direction", "one of up, down, both")


async def neighbourhood(
    session: AsyncSession,
    principal: Principal,
    slug: str,
    depth: int = 2,
    direction: str = "both",
) -> schemas.Graph:
    """Services within `depth` hops of `slug`: what calls it (up), what it calls (down),
    or both (the union of the two walks, not an undirected walk)."""
    _check(depth, direction)
    start = await session.scalar(
        scoped(select(Service.id).where(Service.slug == slug), Service, principal)
    )
    if start is None:
        raise NotFound(f"service '{slug}' not found")
    distance: dict[uuid.UUID, int] = {}
    edges: dict[uuid.UUID, Edge] = {}
    for way in ("down", "up") if direction == "both" else (direction,):
        found, followed = await _walk(session, principal.org_id, [start], depth, way)
        for node, hops in found.items():
            distance[node] = min(hops, distance.get(node, hops))
        edges.update(followed)
    rows: list[Any] = []
    for chunk in _chunks(distance):
        rows.extend(await session.execute(_NODES.where(Service.id.in_(chunk))))
    return _graph(rows, edges.values(), distance)


async def system_graph(session: AsyncSession, principal: Principal) -> schemas.Graph:
    """Every service of the caller's organisation and every dependency between them."""
    rows = list(await session.execute(scoped(_NODES, Service, principal)))
    edges = [Edge(*row) for row in await session.execute(
        select(*_EDGE).where(ServiceDependency.org_id == principal.org_id)
    )]  # fmt: skip
    return _graph(rows, edges, None)


def _graph(
    rows: list[Any], edges: Iterable[Edge], distance: dict[uuid.UUID, int] | None
) -> schemas.Graph:
    nodes = [
        schemas.GraphNode(
            slug=slug, name=name, tier=tier, lifecycle=lifecycle, team_id=team_id,
            team=team, distance=distance[node_id] if distance is not None else None,
        )
        for node_id, slug, name, tier, lifecycle, team_id, team in rows
    ]  # fmt: skip
    slugs = {row[0]: row[1] for row in rows}
    calls: dict[str, set[str]] = {node.slug: set() for node in nodes}
    out: list[schemas.GraphEdge] = []
    for edge in edges:
        target = slugs.get(edge.target) if edge.target is not None else None
        out.append(
            schemas.GraphEdge(
                id=edge.id, source=slugs[edge.source], target=target,
                target_resource=edge.resource, kind=edge.kind,  # type: ignore[arg-type]
                criticality=edge.criticality,  # type: ignore[arg-type]
            )
        )  # fmt: skip
        if target is not None:
            calls[slugs[edge.source]].add(target)
    nodes.sort(key=lambda n: (n.distance or 0, n.slug))
    out.sort(key=lambda e: (e.source, e.target or "", e.target_resource or ""))
    return schemas.Graph(nodes=nodes, edges=out, cycles=find_cycles(calls))


async def _ids(session: AsyncSession, org_id: uuid.UUID, slugs: Iterable[str]) -> set[uuid.UUID]:
    wanted = set(slugs)
    found = await session.scalars(
        select(Service.id).where(Service.org_id == org_id, Service.slug.in_(wanted))
    )
    return set(found)


async def _reach(
    session: AsyncSession, org_id: uuid.UUID, slugs: Iterable[str], hops: int, way: str
) -> set[str]:
    if hops < 0:
        raise InvalidInput.on("hops", "cannot be negative")
    start = await _ids(session, org_id, slugs)
    distance, _ = await _walk(session, org_id, start, hops, way, closing=False)
    reached = set(distance) - start
    names: set[str] = set()
    for chunk in _chunks(reached):
        names.update(await session.scalars(select(Service.slug).where(Service.id.in_(chunk))))
    return names


async def upstream(
    session: AsyncSession, org_id: uuid.UUID, slugs: Iterable[str], hops: int = MAX_DEPTH
) -> set[str]:
    """Slugs of the services that call any of `slugs`, directly or within `hops` (their
    dependents: who is hit when they fail). The given services are not included."""
    return await _reach(session, org_id, slugs, hops, "up")


async def downstream(
    session: AsyncSession, org_id: uuid.UUID, slugs: Iterable[str], hops: int = MAX_DEPTH
) -> set[str]:
    """Slugs of the services any of `slugs` call, directly or within `hops` (their
    dependencies: where a failure of theirs may come from). The given services are not
    included."""
    return await _reach(session, org_id, slugs, hops, "down")
