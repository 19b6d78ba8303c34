"""Dependency graph queries: the neighbourhood of a service, the whole system, and the
plain `upstream` / `downstream` sets the incident root-cause analysis builds on.

Direction, everywhere: *down* follows what a service calls (its dependencies), *up*
follows what calls it (its dependents).

The walk is breadth-first, one lean query per ring (plain columns, no ORM objects; both
directions at once) over the indexed `service_id` / `target_service_id` columns, so its
cost follows the size of the neighbourhood, not of the organisation. Loops are allowed: a service is
visited once, and the loops found are reported (`loom.services.cycles`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping
from itertools import zip_longest
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.models import Team
from loom.auth.principal import Principal
from loom.auth.scoping import scoped
from loom.db.filters import one_of
from loom.errors import InvalidInput, NotFound, RejectedInput
from loom.services import schemas
from loom.services.checks.stats import health_by_service
from loom.services.cycles import find_cycles
from loom.services.kinds import Criticality, DependencyKind, Lifecycle
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


#: Per direction: the column of the end a walk stands on, and of the end it goes to.
_ENDS = {
    "down": (ServiceDependency.service_id, ServiceDependency.target_service_id),
    "up": (ServiceDependency.target_service_id, ServiceDependency.service_id),
}


def _ends(edge: Edge, way: str) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """(near, far) end of `edge` walking `way`; None is an outside resource."""
    return (edge.source, edge.target) if way == "down" else (edge.target, edge.source)


async def _ring(
    session: AsyncSession,
    org_id: uuid.UUID,
    frontiers: Mapping[str, Collection[uuid.UUID]],
    among: Mapping[str, Collection[uuid.UUID] | None] | None = None,
) -> list[Edge]:
    """The edges leaving each direction's frontier (down: what they call; up: what
    calls them), all directions in one query; with `among`, only the edges whose far end
    is in that direction's `among` (when it is not None)."""
    parts = [[(way, chunk) for chunk in _chunks(ids)] for way, ids in frontiers.items() if ids]
    found: list[Edge] = []
    for group in zip_longest(*parts):
        terms = []
        for way, chunk in filter(None, group):
            near, far = _ENDS[way]
            term = one_of(session, near, chunk)
            within = among.get(way) if among else None
            if within is not None:
                term = and_(term, one_of(session, far, list(within)))
            terms.append(term)
        # PostgreSQL answers the directions' OR with a bitmap OR of the two indexes;
        # SQLite's planner scans the organisation's edges for it: one query each there.
        together = session.get_bind().dialect.name == "postgresql"
        for where in [or_(*terms)] if together else terms:
            stmt = select(*_EDGE).where(ServiceDependency.org_id == org_id, where)
            found.extend(Edge(*row) for row in await session.execute(stmt))
    return found


async def _walk(
    session: AsyncSession,
    org_id: uuid.UUID,
    start: Iterable[uuid.UUID],
    hops: int,
    ways: Iterable[str],
    *,
    closing: bool = True,
) -> tuple[dict[str, dict[uuid.UUID, int]], dict[uuid.UUID, Edge]]:
    """Services within `hops` of `start` going each of `ways` (with their distance), and
    the edges followed. The directions walk side by side, one query per hop for all of
    them. With `closing`, also the edges from the outer rings back to services already
    found, so a loop closing inside the neighbourhood shows."""
    first = set(start)
    distance = {way: dict.fromkeys(first, 0) for way in ways}
    frontier = {way: set(first) for way in distance}
    edges: dict[uuid.UUID, Edge] = {}
    for hop in range(1, hops + 1):
        if not any(frontier.values()):
            break
        ring: dict[str, set[uuid.UUID]] = {way: set() for way in distance}
        for edge in await _ring(session, org_id, frontier):
            for way, seen in distance.items():
                near, far = _ends(edge, way)
                if near not in frontier[way]:
                    continue
                edges[edge.id] = edge
                if far is not None and far not in seen:  # None: an outside resource
                    seen[far] = hop
                    ring[way].add(far)
        frontier = ring
    if closing and any(frontier.values()):
        # Only edges back into what was found: a hub's thousands of callers stay unread
        # (filtered here instead when what was found is too many to list in the query).
        within = {way: set(seen) if len(seen) <= _CHUNK else None for way, seen in distance.items()}
        for edge in await _ring(session, org_id, frontier, among=within):
            for way, seen in distance.items():
                near, far = _ends(edge, way)
                if near in frontier[way] and far in seen:
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
    ways = ("down", "up") if direction == "both" else (direction,)
    found, edges = await _walk(session, principal.org_id, [start], depth, ways)
    distance: dict[uuid.UUID, int] = {}
    for seen in found.values():
        for node, hops in seen.items():
            distance[node] = min(hops, distance.get(node, hops))
    rows: list[Any] = []
    for chunk in _chunks(distance):
        rows.extend(await session.execute(_NODES.where(one_of(session, Service.id, chunk))))
    health = await health_by_service(session, principal.org_id, among=distance)
    return _graph(rows, edges.values(), distance, health)


async def system_graph(session: AsyncSession, principal: Principal) -> schemas.Graph:
    """Every service of the caller's organisation and every dependency between them."""
    rows = list(await session.execute(scoped(_NODES, Service, principal)))
    edges = [Edge(*row) for row in await session.execute(
        select(*_EDGE).where(ServiceDependency.org_id == principal.org_id)
    )]  # fmt: skip
    health = await health_by_service(session, principal.org_id)
    return _graph(rows, edges, None, health)


def _graph(
    rows: list[Any],
    edges: Iterable[Edge],
    distance: dict[uuid.UUID, int] | None,
    health: Mapping[uuid.UUID, str],
) -> schemas.Graph:
    """`health`: service id → its checks' overall status (`health_by_service`, one query
    for the services shown); a service without checks is "unknown"."""
    # Rows read from the database are already valid: construct without validating them
    # again (a neighbourhood is hundreds of nodes and edges).
    nodes = [
        schemas.GraphNode.model_construct(
            slug=slug, name=name, tier=tier, lifecycle=Lifecycle(lifecycle), team_id=team_id,
            team=team, distance=distance[node_id] if distance is not None else None,
            health=health.get(node_id, "unknown"),
        )
        for node_id, slug, name, tier, lifecycle, team_id, team in rows
    ]  # fmt: skip
    slugs = {row[0]: row[1] for row in rows}
    calls: dict[str, set[str]] = {node.slug: set() for node in nodes}
    out: list[schemas.GraphEdge] = []
    for edge in edges:
        target = slugs.get(edge.target) if edge.target is not None else None
        out.append(
            schemas.GraphEdge.model_construct(
                id=edge.id, source=slugs[edge.source], target=target,
                target_resource=edge.resource, kind=DependencyKind(edge.kind),
                criticality=Criticality(edge.criticality),
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
    found, _ = await _walk(session, org_id, start, hops, (way,), closing=False)
    reached = set(found[way]) - start
    names: set[str] = set()
    for chunk in _chunks(reached):
        names.update(
            await session.scalars(select(Service.slug).where(one_of(session, Service.id, chunk)))
        )
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


async def edges_near(
    session: AsyncSession, org_id: uuid.UUID, start: Iterable[uuid.UUID], hops: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """The service-to-service edges (caller, callee) within `hops` of any of `start`, in
    both directions: enough to walk from each start service, in memory, up or down for
    `hops` steps (incident grouping and root-cause ranking do so for many services at
    once, at the cost of one walk)."""
    if hops < 0:
        raise InvalidInput.on("hops", "cannot be negative")
    _, edges = await _walk(session, org_id, start, hops, ("down", "up"), closing=False)
    return [(e.source, e.target) for e in edges.values() if e.target is not None]
