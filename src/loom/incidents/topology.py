"""The dependency graph around some services, held in memory for one batch of alerts:
grouping asks "is this service within N hops of that one?" and root-cause ranking "which
of these failing services depend on which?" many times, after a single walk
(`loom.services.graph.edges_near`).

Directions as in the registry: *down* follows what a service calls (its dependencies,
where a failure comes from), *up* what calls it (its dependents, who it hurts).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from loom.services.graph import edges_near


class Topology:
    def __init__(self, edges: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> None:
        self._next: dict[str, dict[uuid.UUID, set[uuid.UUID]]] = {
            "down": defaultdict(set),
            "up": defaultdict(set),
        }
        for caller, callee in edges:
            if caller != callee:
                self._next["down"][caller].add(callee)
                self._next["up"][callee].add(caller)

    @classmethod
    async def around(
        cls, session: AsyncSession, org_id: uuid.UUID, services: Iterable[uuid.UUID], hops: int
    ) -> Topology:
        wanted = set(services)
        return cls(await edges_near(session, org_id, wanted, hops) if wanted else [])

    def nodes(self) -> set[uuid.UUID]:
        return set(self._next["down"]) | set(self._next["up"])

    def reach(self, start: uuid.UUID, way: str, hops: int) -> dict[uuid.UUID, int]:
        """Services within `hops` of `start` going `way` ("down" or "up"), with their
        distance; `start` itself is not included."""
        step = self._next[way]
        seen: dict[uuid.UUID, int] = {start: 0}
        frontier = [start]
        for hop in range(1, hops + 1):
            ring = []
            for node in frontier:
                for far in step.get(node, ()):
                    if far not in seen:
                        seen[far] = hop
                        ring.append(far)
            frontier = ring
            if not frontier:
                break
        del seen[start]
        return seen

    def nearest(
        self, start: uuid.UUID, targets: Iterable[uuid.UUID], hops: int
    ) -> tuple[uuid.UUID, str, int] | None:
        """The closest of `targets` within `hops` of `start`, going one way only:
        (target, way, distance), or None. Down first on a tie (a dependency of the
        failing service explains it better than a dependent)."""
        wanted = set(targets)
        best: tuple[uuid.UUID, str, int] | None = None
        for way in ("down", "up"):
            for node, hops_away in self.reach(start, way, hops).items():
                if node in wanted and (best is None or hops_away < best[2]):
                    best = (node, way, hops_away)
        return best
