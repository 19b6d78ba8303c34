"""An incident's running counts of its alerts (per service, severity, environment and
alert name), kept on the incident row (`Incident.stats`) so ingestion updates them by
the batch's deltas instead of re-reading every alert of a storm; manual changes
(merge, split, move) recount them from the alerts with one grouped query.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents.kinds import AlertStatus, Severity
from loom.incidents.models import Alert

#: Alert names kept per service and in all (the most frequent): enough for titles.
MAX_NAMES = 20


def _trim(names: Counter[str]) -> Counter[str]:
    # Trimmed to MAX_NAMES only past twice as many: adding stays cheap in a storm.
    if len(names) <= 2 * MAX_NAMES:
        return names
    return Counter(dict(names.most_common(MAX_NAMES)))


@dataclass
class ServiceTally:
    first_seen: datetime
    alerts: int = 0
    firing: int = 0
    names: Counter[str] = field(default_factory=Counter)


@dataclass
class Tally:
    alerts: int = 0
    firing: int = 0
    severities: Counter[str] = field(default_factory=Counter)
    environments: Counter[str] = field(default_factory=Counter)
    names: Counter[str] = field(default_factory=Counter)
    services: dict[uuid.UUID, ServiceTally] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        present = [Severity(s) for s, n in self.severities.items() if n > 0]
        return max(present, key=lambda s: s.rank) if present else Severity.INFO

    def add(self, alert: Alert, *, count: int = 1, firing: int | None = None) -> None:
        """Count `count` alerts like `alert` (of which `firing` fire; default: as it does)."""
        if firing is None:
            firing = count if alert.status == AlertStatus.FIRING else 0
        self.alerts += count
        self.firing += firing
        self.severities[alert.severity] += count
        if alert.environment:
            self.environments[alert.environment] += count
        self.names[alert.name] += count
        self.names = _trim(self.names)
        if alert.service_id is not None:
            entry = self.services.setdefault(alert.service_id, ServiceTally(alert.starts_at))
            entry.alerts += count
            entry.firing += firing
            entry.first_seen = min(entry.first_seen, alert.starts_at)
            entry.names[alert.name] += count
            entry.names = _trim(entry.names)

    def firing_changed(self, alert: Alert, delta: int) -> None:
        """`alert` of this incident started (+1) or stopped (-1) firing."""
        self.firing = max(self.firing + delta, 0)
        entry = self.services.get(alert.service_id) if alert.service_id else None
        if entry is not None:
            entry.firing = max(entry.firing + delta, 0)

    def severity_changed(self, old: str, new: str) -> None:
        """An alert of this incident was seen again at severity `new` (was `old`)."""
        if self.severities[old] > 0:
            self.severities[old] -= 1
        self.severities[new] += 1

    def absorb(self, other: Tally) -> None:
        self.alerts += other.alerts
        self.firing += other.firing
        self.severities.update(other.severities)
        self.environments.update(other.environments)
        self.names = _trim(self.names + other.names)
        for sid, theirs in other.services.items():
            mine = self.services.setdefault(sid, ServiceTally(theirs.first_seen))
            mine.alerts += theirs.alerts
            mine.firing += theirs.firing
            mine.first_seen = min(mine.first_seen, theirs.first_seen)
            mine.names = _trim(mine.names + theirs.names)

    def to_json(self) -> dict[str, Any]:
        return {
            "alerts": self.alerts, "firing": self.firing,
            "severities": dict(self.severities), "environments": dict(self.environments),
            "names": dict(self.names),
            "services": {
                str(sid): {"first_seen": s.first_seen.isoformat(), "alerts": s.alerts,
                           "firing": s.firing, "names": dict(s.names)}
                for sid, s in self.services.items()
            },
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Tally:
        if not data:
            return cls()
        return cls(
            alerts=data.get("alerts", 0), firing=data.get("firing", 0),
            severities=Counter(data.get("severities", {})),
            environments=Counter(data.get("environments", {})),
            names=Counter(data.get("names", {})),
            services={
                uuid.UUID(sid): ServiceTally(
                    datetime.fromisoformat(s["first_seen"]), s["alerts"], s["firing"],
                    Counter(s.get("names", {})),
                )
                for sid, s in data.get("services", {}).items()
            },
        )  # fmt: skip


async def recount(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Tally]:
    """The tallies of incidents `ids`, counted from their alerts (one grouped query)."""
    wanted = list(ids)
    out: dict[uuid.UUID, Tally] = defaultdict(Tally)
    if not wanted:
        return out
    stmt = (
        select(
            Alert.incident_id, Alert.service_id, Alert.status, Alert.severity,
            Alert.environment, Alert.name, func.count(), func.min(Alert.starts_at),
        )
        .where(Alert.incident_id.in_(wanted))
        .group_by(Alert.incident_id, Alert.service_id, Alert.status, Alert.severity,
                  Alert.environment, Alert.name)
    )  # fmt: skip
    rows = await session.execute(stmt)
    for incident_id, service_id, status, severity, env, name, count, started in rows:
        like = Alert(
            service_id=service_id, status=status, severity=severity, environment=env,
            name=name, starts_at=started,
        )  # fmt: skip
        if incident_id is not None:
            out[incident_id].add(like, count=count)
    return out
