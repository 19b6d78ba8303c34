"""Recomputing what an incident shows from its alerts: counts, severity (max of its
alerts unless overridden), environment, the services it holds, the ranked root cause,
the affected services, related changes, and the generated title.

Every change to an incident's alerts (grouping, resolution, merge, split, move) ends
with `refresh_incidents`. It reads aggregates, not alert rows: one grouped query for all
the incidents given, one graph walk, whatever their size. A severity it changes is noted
on the timeline (`severity_changed`, by "system"; notifications read a raise there).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents import correlation, tally, timeline
from loom.incidents.kinds import OPEN, EventKind, IncidentStatus, Severity
from loom.incidents.models import Incident
from loom.incidents.root_cause import HOPS, FailingService, rank
from loom.incidents.tally import Tally
from loom.incidents.topology import Topology
from loom.incidents.views import service_slugs
from loom.settings import IncidentSettings


@dataclass(frozen=True)
class Graph:
    """The dependency graph within `HOPS` of some services (`around`), and the slugs
    of every service in it."""

    around: frozenset[uuid.UUID]
    topology: Topology
    slugs: dict[uuid.UUID, str]

    @classmethod
    async def walk(
        cls, session: AsyncSession, org_id: uuid.UUID, services: set[uuid.UUID], hops: int
    ) -> Graph:
        topology = await Topology.around(session, org_id, services, hops)
        slugs = await service_slugs(session, services | topology.nodes())
        return cls(frozenset(services), topology, slugs)


#: Dependents of the root cause listed as affected though they have no alerts (yet).
MAX_QUIET_DEPENDENTS = 20


def _title(
    incident: Incident, stats: Tally, root: uuid.UUID | None, slugs: dict[uuid.UUID, str]
) -> str:
    if root is not None and root in stats.services:
        names = stats.services[root].names
        title = f"{slugs.get(root, 'unknown service')}: {names.most_common(1)[0][0]}"
        hurt = len(stats.services) - 1
        if hurt:
            title += f" — {hurt} more service{'s' if hurt > 1 else ''} affected"
        return title[:300]
    if stats.names:
        name = str(stats.names.most_common(1)[0][0])
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
    recount: bool = True,
    graph: Graph | None = None,
) -> None:
    """Recompute what `incidents` show. `recount`: count their alerts again (after a
    manual change); otherwise their tallies are up to date (ingestion keeps them).
    `correlate`: score related changes for all of them (True), none (False), or the
    incidents with these ids (and always for one whose services changed)."""
    if not incidents:
        return
    # Incidents opened by this change (not written yet): their first severity is no change.
    opening = {i.id for i in incidents if inspect(i).pending}
    if recount:
        await session.flush()
        counted = await tally.recount(session, [i.id for i in incidents])
        for incident in incidents:
            incident.stats = counted[incident.id].to_json()
    all_stats = {i.id: tally.Tally.from_json(i.stats) for i in incidents}
    services = {s for st in all_stats.values() for s in st.services}
    if graph is None or not services <= graph.around:
        graph = await Graph.walk(session, incidents[0].org_id, services, HOPS)
    for incident in incidents:
        stats = all_stats[incident.id]
        severity = incident.severity
        await _refresh_one(
            session, incident, stats, graph.topology, graph.slugs, settings, now, correlate
        )
        # A merged incident's counts go to nothing: its severity says nothing new.
        changed = incident.severity != severity and incident.merged_into_id is None
        if changed and incident.id not in opening:
            _severity_changed(session, incident, severity, now)


async def _refresh_one(
    session: AsyncSession,
    incident: Incident,
    stats: Tally,
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
        changes = await correlation.correlate(
            session, incident, settings=settings, now=now, topology=topology
        )
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


def _severity_changed(session: AsyncSession, incident: Incident, was: str, now: datetime) -> None:
    """Its alerts changed its severity (as `lifecycle.set_severity` notes a person's)."""
    verb = "raised" if Severity(incident.severity).rank > Severity(was).rank else "lowered"
    timeline.add(
        session, incident, EventKind.SEVERITY_CHANGED,
        f"Severity {verb} to {incident.severity} by its alerts", at=now,
        data={"from": was, "to": incident.severity, "override": incident.severity_override},
    )  # fmt: skip


def _affected(
    root: uuid.UUID | None, stats: Tally, topology: Topology, slugs: dict[uuid.UUID, str]
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
