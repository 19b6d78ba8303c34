"""Recomputing what an incident shows from its alerts: counts, severity (max of its
alerts unless overridden), environment, the services it holds, the ranked root cause,
the affected services, related changes, and the generated title.

Every change to an incident's alerts (grouping, resolution, merge, split, move) ends
with `refresh_incidents`. It reads aggregates, not alert rows: one grouped query for all
the incidents given, one graph walk, whatever their size.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents import correlation, timeline
from loom.incidents.kinds import OPEN, AlertStatus, EventKind, IncidentStatus, Severity
from loom.incidents.models import Alert, Incident
from loom.incidents.root_cause import HOPS, FailingService, rank
from loom.incidents.topology import Topology
from loom.incidents.views import service_slugs
from loom.settings import IncidentSettings

#: Dependents of the root cause listed as affected though they have no alerts (yet).
MAX_QUIET_DEPENDENTS = 20


@dataclass
class _ServiceStats:
    first_seen: datetime
    alerts: int = 0
    firing: int = 0
    names: Counter[str] = field(default_factory=Counter)


@dataclass
class _Stats:
    alerts: int = 0
    firing: int = 0
    severity: Severity = Severity.INFO
    environments: Counter[str] = field(default_factory=Counter)
    services: dict[uuid.UUID, _ServiceStats] = field(default_factory=dict)
    names: Counter[str] = field(default_factory=Counter)


async def _stats(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID | None, _Stats]:
    stmt = (
        select(
            Alert.incident_id, Alert.service_id, Alert.status, Alert.severity,
            Alert.environment, Alert.name, func.count(), func.min(Alert.starts_at),
        )
        .where(Alert.incident_id.in_(ids))
        .group_by(Alert.incident_id, Alert.service_id, Alert.status, Alert.severity,
                  Alert.environment, Alert.name)
    )  # fmt: skip
    out: dict[uuid.UUID | None, _Stats] = defaultdict(_Stats)
    for (
        incident_id,
        service_id,
        status,
        severity,
        env,
        name,
        count,
        started,
    ) in await session.execute(stmt):
        s = out[incident_id]
        s.alerts += count
        firing = count if status == AlertStatus.FIRING else 0
        s.firing += firing
        if Severity(severity).rank > s.severity.rank:
            s.severity = Severity(severity)
        if env:
            s.environments[env] += count
        s.names[name] += count
        if service_id is not None:
            entry = s.services.setdefault(service_id, _ServiceStats(started))
            entry.alerts += count
            entry.firing += firing
            entry.first_seen = min(entry.first_seen, started)
            entry.names[name] += count
    return out


def _title(
    incident: Incident, stats: _Stats, root: uuid.UUID | None, slugs: dict[uuid.UUID, str]
) -> str:
    if root is not None and root in stats.services:
        names = stats.services[root].names
        title = f"{slugs.get(root, 'unknown service')}: {names.most_common(1)[0][0]}"
        hurt = len(stats.services) - 1
        if hurt:
            title += f" — {hurt} more service{'s' if hurt > 1 else ''} affected"
        return title[:300]
    if stats.names:
        name = stats.names.most_common(1)[0][0]
        more = stats.alerts - 1
        return (name + (f" and {more} more alert{'s' if more > 1 else ''}" if more else ""))[:300]
    return incident.title


async def refresh_incidents(
    session: AsyncSession,
    incidents: Sequence[Incident],
    *,
    settings: IncidentSettings,
    now: datetime,
    correlate: bool | Sequence[uuid.UUID] = True,
) -> None:
    """Recompute `incidents` from their alerts. `correlate`: score related changes for
    all of them (True), none (False), or the incidents with these ids."""
    if not incidents:
        return
    await session.flush()
    all_stats = await _stats(session, [i.id for i in incidents])
    services = {s for st in all_stats.values() for s in st.services}
    topology = await Topology.around(session, incidents[0].org_id, services, HOPS)
    near = {n for s in services for n in topology.reach(s, "up", 1)}
    slugs = await service_slugs(session, services | near)
    for incident in incidents:
        stats = all_stats.get(incident.id, _Stats())
        await _refresh_one(session, incident, stats, topology, slugs, settings, now, correlate)


async def _refresh_one(
    session: AsyncSession,
    incident: Incident,
    stats: _Stats,
    topology: Topology,
    slugs: dict[uuid.UUID, str],
    settings: IncidentSettings,
    now: datetime,
    correlate: bool | Sequence[uuid.UUID],
) -> None:
    incident.alert_count = stats.alerts
    incident.firing_count = stats.firing
    incident.severity = incident.severity_override or stats.severity.value
    incident.environment = stats.environments.most_common(1)[0][0] if stats.environments else None
    before_services = set(incident.service_ids)
    incident.service_ids = sorted(str(s) for s in stats.services)
    if IncidentStatus(incident.status) in OPEN:
        if stats.firing == 0 and stats.alerts:
            incident.quiet_since = incident.quiet_since or now
        elif stats.firing:
            incident.quiet_since = None
    wants = correlate if isinstance(correlate, bool) else incident.id in correlate
    changes: dict[uuid.UUID, int] = {}
    if wants or before_services != set(incident.service_ids):
        changes = await correlation.correlate(session, incident, settings=settings, now=now)
    else:
        changes = {
            uuid.UUID(c["id"]): c["related_change_score"]
            for c in incident.root_cause
            if c.get("related_change_score") and c.get("id")
        }
    failing = [
        FailingService(
            id=sid, slug=slugs.get(sid, str(sid)), alerts=entry.alerts,
            first_seen=entry.first_seen, change_score=changes.get(sid),
        )
        for sid, entry in stats.services.items()
    ]  # fmt: skip
    ranked = rank(failing, topology)
    old_root = incident.root_cause_service_id
    incident.root_cause = [{**c.as_dict(), "id": str(c.service.id)} for c in ranked]
    root = ranked[0].service.id if ranked else None
    incident.root_cause_service_id = root
    incident.affected = _affected(root, stats, topology, slugs)
    if not incident.title_edited:
        incident.title = _title(incident, stats, root, slugs)
    if root is not None and root != old_root:
        top = ranked[0]
        timeline.add(
            session, incident, EventKind.ROOT_CAUSE,
            f"Probable root cause: `{top.service.slug}` (score {top.score})",
            at=now, data={"service": top.service.slug, "score": top.score, "reasons": top.reasons,
                          "previous": slugs.get(old_root) if old_root else None},
        )  # fmt: skip


def _affected(
    root: uuid.UUID | None, stats: _Stats, topology: Topology, slugs: dict[uuid.UUID, str]
) -> list[dict[str, object]]:
    distance = topology.reach(root, "up", HOPS) if root is not None else {}
    if root is not None:
        distance[root] = 0
    out: list[dict[str, object]] = [
        {"service": slugs.get(sid, str(sid)), "alerts": entry.alerts, "firing": entry.firing,
         "distance": distance.get(sid)}
        for sid, entry in stats.services.items()
    ]  # fmt: skip
    quiet = [sid for sid, hops in distance.items() if hops == 1 and sid not in stats.services][
        :MAX_QUIET_DEPENDENTS
    ]
    out.extend(
        {"service": slugs.get(sid, str(sid)), "alerts": 0, "firing": 0, "distance": 1}
        for sid in quiet
    )
    out.sort(key=lambda a: (a["distance"] is None, a["distance"] or 0, str(a["service"])))
    return out
