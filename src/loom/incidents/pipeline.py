"""What happens to alerts once stored: new ones join or open incidents, resolved ones
may quiet their incident, and every incident touched is refreshed (counts, severity,
root cause, affected services, related changes, title).

`process` runs in the ingesting transaction, after `lock_alerts`: one batch at a time
per organisation decides grouping, so two batches never open two incidents for one
failure, and the incident exists when the POST answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents import timeline
from loom.incidents.grouping import Group, Grouper, Match, Rules, event_time
from loom.incidents.kinds import OPEN, EventKind, GroupingStrategy, IncidentStatus, Severity
from loom.incidents.models import Alert, Incident
from loom.incidents.refresh import refresh_incidents
from loom.incidents.topology import Topology
from loom.incidents.views import service_slugs
from loom.settings import IncidentSettings


@dataclass
class StoredBatch:
    """The outcome of storing one batch of alerts."""

    #: New episodes, firing and not silenced: to be grouped.
    opened: list[Alert] = field(default_factory=list)
    #: Firing episodes seen again (count and last_seen bumped).
    repeated: list[Alert] = field(default_factory=list)
    #: Episodes that the source says resolved in this batch.
    resolved: list[Alert] = field(default_factory=list)
    #: Resolved episodes firing again while their incident is open (the same row).
    refired: list[Alert] = field(default_factory=list)
    #: Stored silenced: kept, grouped into nothing.
    silenced: list[Alert] = field(default_factory=list)


async def lock_alerts(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Serialise alert ingestion of one organisation until the transaction ends.
    PostgreSQL: a transaction-level advisory lock. SQLite: the transaction already holds
    the database's write lock (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(org_id.bytes[:8], "big", signed=True) ^ 0x414C52  # "ALR"
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def process(
    session: AsyncSession,
    org_id: uuid.UUID,
    batch: StoredBatch,
    *,
    settings: IncidentSettings,
    now: datetime,
) -> list[Incident]:
    """Group `batch.opened`, note re-fired and resolved alerts, refresh what changed.
    Returns the incidents touched."""
    touched: dict[uuid.UUID, Incident] = {}
    created: list[uuid.UUID] = []
    if batch.opened:
        groups = await _group(session, org_id, batch.opened, settings, now)
        for incident in await _write_groups(session, org_id, groups, settings, now):
            touched[incident.id] = incident
        created = [
            g.incident.id for g in groups if g.incident and not g.merged_into and not g.existed
        ]
    others = [a for a in (*batch.refired, *batch.resolved, *batch.repeated) if a.incident_id]
    if others:
        missing = {a.incident_id for a in others} - set(touched)
        if missing:
            for incident in await session.scalars(select(Incident).where(Incident.id.in_(missing))):
                touched[incident.id] = incident
    for alert in batch.refired:
        if alert.incident_id in touched:
            incident = touched[alert.incident_id]
            incident.last_alert_at = max(incident.last_alert_at, alert.last_seen)
            timeline.add(session, incident, EventKind.ALERT_FIRED, f"{_what(alert)} fired again",
                         at=alert.last_seen, actor=SOURCE, data=_alert_data(alert))  # fmt: skip
    for alert in batch.resolved:
        if alert.incident_id in touched:
            timeline.add(session, touched[alert.incident_id], EventKind.ALERT_RESOLVED,
                         f"{_what(alert)} resolved", at=alert.ends_at or now, actor=SOURCE,
                         data=_alert_data(alert))  # fmt: skip
    for alert in batch.repeated:
        if alert.incident_id in touched:
            incident = touched[alert.incident_id]
            incident.last_alert_at = max(incident.last_alert_at, alert.last_seen)
    await refresh_incidents(
        session, list(touched.values()), settings=settings, now=now, correlate=created
    )
    return list(touched.values())


SOURCE = "alert source"


def _what(alert: Alert) -> str:
    return f"Alert {alert.name}"


def _alert_data(alert: Alert) -> dict[str, object]:
    return {"alert_id": str(alert.id), "fingerprint": alert.fingerprint, "name": alert.name,
            "severity": alert.severity, "status": alert.status}  # fmt: skip


def _rules(settings: IncidentSettings) -> Rules:
    return Rules(
        window=timedelta(minutes=settings.grouping_window_minutes),
        strategies=frozenset(settings.grouping_strategies),
        hops=settings.topology_hops,
        labels=tuple(settings.grouping_labels),
    )


async def _group(
    session: AsyncSession,
    org_id: uuid.UUID,
    alerts: list[Alert],
    settings: IncidentSettings,
    now: datetime,
) -> list[Group]:
    rules = _rules(settings)
    alerts = sorted(alerts, key=lambda a: (event_time(a, now), a.fingerprint))
    earliest = event_time(alerts[0], now) - rules.window
    open_incidents = list(
        await session.scalars(
            select(Incident).where(
                Incident.org_id == org_id,
                Incident.status.in_([s.value for s in OPEN]),
                Incident.last_alert_at >= earliest,
            )
        )
    )
    groups = [Group.of(i) for i in open_incidents]
    services = {a.service_id for a in alerts if a.service_id is not None}
    topology = (
        await Topology.around(session, org_id, services, rules.hops)
        if "topology" in rules.strategies
        else Topology([])
    )
    known = services | {s for g in groups for s in g.service_ids}
    slugs = await service_slugs(session, known | topology.nodes())
    grouper = Grouper(groups, topology, slugs, rules)
    for alert in alerts:
        grouper.place(alert, now)
    return grouper.groups


async def _write_groups(
    session: AsyncSession,
    org_id: uuid.UUID,
    groups: list[Group],
    settings: IncidentSettings,
    now: datetime,
) -> list[Incident]:
    """Open the new incidents, point the alerts at theirs, apply merges, and write the
    timeline; returns the incidents touched (merged ones included)."""
    live = [g for g in groups if g.merged_into is None and (g.joined or g.absorbed)]
    number = await _last_number(session, org_id)
    for group in live:
        if group.incident is None:
            number += 1
            group.incident = Incident(
                org_id=org_id, number=number, title="New incident",
                status=IncidentStatus.TRIGGERED.value, severity=_worst(group).value,
                opened_at=group.first_alert_at, last_alert_at=group.last_alert_at,
            )  # fmt: skip
            session.add(group.incident)
    await session.flush()
    window = _minutes(settings.grouping_window_minutes)
    touched: list[Incident] = []
    for group in live:
        incident = group.incident
        assert incident is not None
        touched.append(incident)
        if not group.existed:
            opened = f"Incident INC-{incident.number} opened"
            timeline.add(
                session, incident, EventKind.INCIDENT_CREATED, opened, at=incident.opened_at
            )
        incident.opened_at = min(incident.opened_at, group.first_alert_at)
        incident.last_alert_at = max(incident.last_alert_at, group.last_alert_at)
        incident.service_ids = sorted({str(s) for s in group.service_ids})
        incident.label_keys = sorted(group.label_keys)
        for source, why in _merged(group):
            if source.incident is not None:
                await _absorb(session, source.incident, incident, why, now)
                touched.append(source.incident)
        for member in (group, *(source for source, _ in _merged(group))):
            for alert, match in member.joined:
                alert.incident_id = incident.id
                alert.grouping = _explain(match, incident, window)
                reason = f": {alert.grouping['text']}" if match.detail else ""
                timeline.add(
                    session, incident, EventKind.ALERT_FIRED,
                    f"{_what(alert)} fired ({alert.severity}){reason}",
                    at=event_time(alert, now), actor=SOURCE, data=_alert_data(alert),
                )  # fmt: skip
    return touched


def _merged(group: Group) -> list[tuple[Group, Match]]:
    """Every group merged into `group`, directly or through another."""
    out: list[tuple[Group, Match]] = []
    for source, why in group.absorbed:
        out.append((source, why))
        out.extend(_merged(source))
    return out


async def _absorb(
    session: AsyncSession, old: Incident, target: Incident, why: Match, now: datetime
) -> None:
    """An open incident merged into `target` by an alert that links them: its alerts
    move, it resolves as merged."""
    await session.execute(
        update(Alert).where(Alert.incident_id == old.id).values(incident_id=target.id)
    )
    old.status = IncidentStatus.RESOLVED.value
    old.merged_into_id = target.id
    old.resolved_at = now
    text = f"linked by an alert: {why.detail}" if why.detail else "linked by an alert"
    timeline.add(session, old, EventKind.MERGED, f"Merged into INC-{target.number}: {text}",
                 at=now, data={"into": target.number, "reason": why.detail})  # fmt: skip
    timeline.add(session, target, EventKind.MERGED, f"INC-{old.number} merged in: {text}",
                 at=now, data={"from": old.number, "reason": why.detail})  # fmt: skip


def _minutes(value: float) -> str:
    return f"{value:g} min"


def _explain(match: Match, incident: Incident, window: str) -> dict[str, object]:
    if match.strategy == GroupingStrategy.NEW or not match.detail:
        text = (
            f"opened INC-{incident.number}: no open incident shares its service, "
            "a graph neighbour or a label"
        )
    else:
        text = f"{match.detail}" + (f" within {window}" if window else "")
    return {"strategy": match.strategy.value, "text": text, "incident_number": incident.number}


def _worst(group: Group) -> Severity:
    worst = Severity.INFO
    members = (group, *(source for source, _ in _merged(group)))
    for alert, _ in (j for m in members for j in m.joined):
        if Severity(alert.severity).rank > worst.rank:
            worst = Severity(alert.severity)
    return worst


async def _last_number(session: AsyncSession, org_id: uuid.UUID) -> int:
    found = await session.scalar(select(func.max(Incident.number)).where(Incident.org_id == org_id))
    return int(found or 0)
