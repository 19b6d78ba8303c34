"""Ranking an incident's failing services as candidates for its root cause (pure: the
caller brings the graph and the figures).

The rule, in order of weight: a service none of whose dependencies fail is a better
candidate than one that depends on a failing service (the failure came from below);
among those, the one the other failing services depend on explains more of the
incident; then the one that failed first; then the one with a related change. The
score (0-100) adds those parts, and each part is explained in words.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from loom.incidents.topology import Topology

#: How far the ranking looks for failing dependencies and dependents.
HOPS = 4
WEIGHTS = {"upstream": 45, "explains": 30, "first": 15, "change": 10}


@dataclass(frozen=True)
class FailingService:
    id: uuid.UUID
    slug: str
    alerts: int
    first_seen: datetime
    change_score: int | None = None


@dataclass(frozen=True)
class Candidate:
    service: FailingService
    score: int
    failing_dependencies: int
    failing_dependents: int
    reasons: list[str]

    def as_dict(self) -> dict[str, object]:
        return {
            "service": self.service.slug,
            "score": self.score,
            "failing_dependencies": self.failing_dependencies,
            "first_seen": self.service.first_seen.isoformat(),
            "alerts": self.service.alerts,
            "related_change_score": self.service.change_score,
            "reasons": self.reasons,
        }


def _names(ids: list[uuid.UUID], by_id: dict[uuid.UUID, FailingService]) -> str:
    shown = sorted(by_id[i].slug for i in ids)
    more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
    return ", ".join(f"`{s}`" for s in shown[:3]) + more


def rank(failing: list[FailingService], topology: Topology, hops: int = HOPS) -> list[Candidate]:
    """The candidates, best first."""
    if not failing:
        return []
    by_id = {f.id: f for f in failing}
    others = max(len(failing) - 1, 1)
    times = sorted({f.first_seen for f in failing})
    span = (times[-1] - times[0]).total_seconds()
    out = []
    for f in failing:
        below = [s for s in topology.reach(f.id, "down", hops) if s in by_id]
        above = [s for s in topology.reach(f.id, "up", hops) if s in by_id]
        reasons = []
        if not below:
            upstream = 1.0
            reasons.append("none of its dependencies has alerts")
        else:
            upstream = 0.5 * (1 - len(below) / others)
            reasons.append(f"depends on failing {_names(below, by_id)}")
        explains = 1.0 if len(failing) == 1 else len(above) / others
        if above:
            reasons.append(
                f"{len(above)} of the {others} other failing services depend on it "
                f"({_names(above, by_id)})"
            )
        first = 1.0 if span == 0 else 1 - (f.first_seen - times[0]).total_seconds() / span
        if f.first_seen == times[0] and len(failing) > 1:
            reasons.append("its alerts started first")
        change = (f.change_score or 0) / 100
        if f.change_score:
            reasons.append(f"a related change scores {f.change_score} %")
        score = round(
            WEIGHTS["upstream"] * upstream
            + WEIGHTS["explains"] * explains
            + WEIGHTS["first"] * first
            + WEIGHTS["change"] * change
        )
        out.append(Candidate(f, score, len(below), len(above), reasons))
    out.sort(key=lambda c: (-c.score, c.failing_dependencies, c.service.first_seen, c.service.slug))
    return out
