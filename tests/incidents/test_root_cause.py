"""Root-cause ranking and the in-memory topology, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from loom.incidents.root_cause import FailingService, rank
from loom.incidents.topology import Topology

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
IDS = {name: uuid.uuid4() for name in ("web", "api", "db", "cache", "queue")}


def svc(name: str, minutes: float = 0, change: int | None = None) -> FailingService:
    return FailingService(IDS[name], name, 1, T0 + timedelta(minutes=minutes), change)


def graph(*edges: tuple[str, str]) -> Topology:
    return Topology((IDS[a], IDS[b]) for a, b in edges)


def test_the_failing_service_without_failing_dependencies_ranks_first() -> None:
    topo = graph(("web", "api"), ("api", "db"), ("api", "cache"))
    ranked = rank([svc("web", 0), svc("api", 1), svc("db", 2)], topo)
    assert [c.service.slug for c in ranked] == ["db", "api", "web"]
    assert ranked[0].failing_dependencies == 0 and ranked[0].failing_dependents == 2
    assert ranked[2].failing_dependencies == 2
    assert "depends on failing `api`, `db`" in ranked[2].reasons


def test_first_seen_then_related_change_break_ties_between_independent_roots() -> None:
    topo = graph(("web", "db"), ("web", "cache"))
    early = rank([svc("db", 0), svc("cache", 3)], topo)
    assert early[0].service.slug == "db"
    assert "its alerts started first" in early[0].reasons
    same_time = rank([svc("db", 0), svc("cache", 0, change=90)], topo)
    assert same_time[0].service.slug == "cache"
    assert "a related change scores 90 %" in same_time[0].reasons


def test_scores_stay_within_0_and_100() -> None:
    topo = graph(("web", "api"), ("api", "db"))
    for c in rank([svc("web", 0, 100), svc("api", 1, 100), svc("db", 9, 100)], topo):
        assert 0 <= c.score <= 100
    assert rank([svc("queue")], topo)[0].score == 90  # no related change


def test_topology_reach_and_nearest_follow_one_direction() -> None:
    topo = graph(("web", "api"), ("api", "db"), ("queue", "db"))
    assert topo.reach(IDS["web"], "down", 2) == {IDS["api"]: 1, IDS["db"]: 2}
    assert topo.reach(IDS["web"], "down", 1) == {IDS["api"]: 1}
    assert topo.reach(IDS["db"], "up", 5) == {IDS["api"]: 1, IDS["queue"]: 1, IDS["web"]: 2}
    # queue and api share db but neither is up or down of the other.
    assert topo.nearest(IDS["queue"], [IDS["api"]], 4) is None
    assert topo.nearest(IDS["db"], [IDS["web"]], 2) == (IDS["web"], "up", 2)
