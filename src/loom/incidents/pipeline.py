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

from loom.incidents import alert_events, labels, timeline
from loom.incidents.grouping import Group, Grouper, Match, Rules, event_time, label_keys
from loom.incidents.kinds import OPEN, EventKind, GroupingStrategy, IncidentStatus, Severity
from loom.incidents.models import Alert, Incident
from loom.incidents.refresh import Graph, refresh_incidents
from loom.incidents.root_cause import HOPS
from loom.incidents.tally import Tally
from loom.incidents.topology import Topology
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
    #: Fingerprint -> the severity an alert seen again had before this batch changed it.
    severity_was: dict[str, str] = field(default_factory=dict)
    #: Stored silenced: kept, grouped into nothing.
    silenced: list[Alert] = field(default_factory=list)
    #: Fingerprint -> its current episode, for every fingerprint of the batch.
    rows: dict[str, Alert] = field(default_factory=dict)
    #: The rows to insert (new episodes), not in the session (`alerts.insert_new`).
    new: list[Alert] = field(default_factory=list)


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
    Returns the incidents touched.

    Nothing is flushed on the way (no autoflush): every row is written once, complete,
    at the end, in as few statements as there are kinds of change, since each statement
    is a round trip made while the organisation's lock is held. The batch's new alerts
    are not in the session: the caller inserts them after (`alerts.insert_new`)."""
    with session.no_autoflush:
        return await _process(session, org_id, batch, settings=settings, now=now)


async def _process(
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
    tallies: dict[uuid.UUID, Tally] = {}
    created: list[uuid.UUID] = []
    graph: Graph | None = None
    #: Incidents read so far: the open ones grouping looked at.
    loaded: dict[uuid.UUID, Incident] = {}
    keys = labels.Pending()
    if batch.opened:
        groups, graph = await _group(session, org_id, batch.opened, settings, now, keys)
        loaded = {g.incident.id: g.incident for g in groups if g.incident is not None}
        for incident, counted in await _write_groups(session, org_id, groups, settings, now, keys):
            touched[incident.id] = incident
            tallies[incident.id] = counted
        created = [
            g.incident.id for g in groups if g.incident and not g.merged_into and not g.existed
        ]
    others = [a for a in (*batch.refired, *batch.resolved, *batch.repeated) if a.incident_id]
    missing = {a.incident_id for a in others if a.incident_id is not None} - set(touched)
    unread = missing - set(loaded)
    if unread:
        for incident in await session.scalars(select(Incident).where(Incident.id.in_(unread))):
            loaded[incident.id] = incident
    for incident_id in missing & set(loaded):
        touched[incident_id] = loaded[incident_id]
        tallies[incident_id] = Tally.from_json(loaded[incident_id].stats)
    seen: dict[uuid.UUID, datetime] = {}
    recounted = _note_others(session, batch, touched, tallies, seen, now)
    # Incidents whose alerts were only seen again show the same: beyond `last_alert_at`,
    # nothing to recompute or rewrite (in a storm, that is most open incidents, most of
    # the time), and their `last_alert_at` is written for all at once.
    unchanged = missing - recounted
    later = {i: at for i, at in seen.items() if at > touched[i].last_alert_at}
    for incident_id in later.keys() - unchanged:
        touched[incident_id].last_alert_at = later[incident_id]
    await _seen_again(session, {i: at for i, at in later.items() if i in unchanged}, now)
    for incident_id, counted in tallies.items():
        if incident_id not in unchanged:
            touched[incident_id].stats = counted.to_json()
    await refresh_incidents(
        session, [i for i in touched.values() if i.id not in unchanged], settings=settings,
        now=now, correlate=created, recount=False, graph=graph,
    )  # fmt: skip
    await keys.write(session)
    return list(touched.values())


async def _seen_again(
    session: AsyncSession, last_alert_at: dict[uuid.UUID, datetime], now: datetime
) -> None:
    """One batched UPDATE of the incidents' `last_alert_at` (their rows otherwise
    unchanged), instead of one statement per incident at the flush."""
    if last_alert_at:
        # An ORM bulk UPDATE by primary key, as `alerts._update_seen_again` writes alerts.
        values = [{"id": i, "last_alert_at": at, "updated_at": now}
                  for i, at in last_alert_at.items()]  # fmt: skip
        await session.execute(update(Incident), values)


def _note_others(
    session: AsyncSession,
    batch: StoredBatch,
    touched: dict[uuid.UUID, Incident],
    tallies: dict[uuid.UUID, Tally],
    seen: dict[uuid.UUID, datetime],
    now: datetime,
) -> set[uuid.UUID]:
    """Alerts of incidents that exist: re-fired, resolved, or seen again (noted in
    `seen`: incident -> when one was last seen). Returns the incidents whose tallies
    changed."""
    recounted: set[uuid.UUID] = set()
    for alert in batch.refired:
        if alert.incident_id in touched:
            incident = touched[alert.incident_id]
            incident.last_alert_at = max(incident.last_alert_at, alert.last_seen)
            tallies[incident.id].firing_changed(alert, +1)
            recounted.add(incident.id)
            alert_events.fired_again(session, incident, alert)
    resolved: dict[uuid.UUID, list[Alert]] = {}
    for alert in batch.resolved:
        if alert.incident_id in touched:
            tallies[alert.incident_id].firing_changed(alert, -1)
            recounted.add(alert.incident_id)
            resolved.setdefault(alert.incident_id, []).append(alert)
    for incident_id, alerts in resolved.items():
        alert_events.add(
            session, touched[incident_id], EventKind.ALERT_RESOLVED, "resolved", alerts, now
        )
    for alert in batch.repeated:
        if alert.incident_id in touched:
            incident = touched[alert.incident_id]
            seen[incident.id] = max(seen.get(incident.id, alert.last_seen), alert.last_seen)
            was = batch.severity_was.get(alert.fingerprint)
            if was is not None:
                # Seen again at another severity: the incident's worst follows it.
                tallies[incident.id].severity_changed(was, alert.severity)
                recounted.add(incident.id)
    return recounted


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
    keys: labels.Pending,
) -> tuple[list[Group], Graph]:
    """Place each alert in a group (its incident to be); also returns the graph walked,
    for the refresh: one walk around the services of the batch and of the open incidents
    serves grouping (`topology_hops`) and root-cause ranking (`root_cause.HOPS`) alike."""
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
    carried = set().union(*(label_keys(a.labels, rules.labels) for a in alerts))
    # Read even when label grouping is off: the keys are kept up to date all the same.
    keys.known = await labels.matching(session, [i.id for i in open_incidents], carried)
    groups = [Group.of(i, keys.known.get(i.id, set())) for i in open_incidents]
    services = {a.service_id for a in alerts if a.service_id is not None}
    known = services | {s for g in groups for s in g.service_ids}
    graph = await Graph.walk(session, org_id, known, max(rules.hops, HOPS))
    topology = graph.topology if "topology" in rules.strategies else Topology([])
    grouper = Grouper(groups, topology, graph.slugs, rules)
    for alert in alerts:
        grouper.place(alert, now)
    return grouper.groups, graph


async def _write_groups(
    session: AsyncSession,
    org_id: uuid.UUID,
    groups: list[Group],
    settings: IncidentSettings,
    now: datetime,
    keys: labels.Pending,
) -> list[tuple[Incident, Tally]]:
    """Open the new incidents, point the alerts at theirs, apply merges, and write the
    timeline; returns the incidents touched (merged ones included) with their tallies."""
    live = [g for g in groups if g.merged_into is None and (g.joined or g.absorbed)]
    number = await last_number(session, org_id) if any(g.incident is None for g in live) else 0
    for group in live:
        if group.incident is None:
            number += 1
            # Ids set here, not at flush: the batch's alerts point at their incident
            # before anything is written, so each alert is one INSERT, not INSERT + UPDATE.
            group.incident = Incident(
                id=uuid.uuid4(), org_id=org_id, number=number, title="New incident",
                status=IncidentStatus.TRIGGERED.value, severity=_worst(group).value,
                opened_at=group.first_alert_at, last_alert_at=group.last_alert_at,
            )  # fmt: skip
            session.add(group.incident)
    window = _minutes(settings.grouping_window_minutes)
    touched: list[tuple[Incident, Tally]] = []
    for group in live:
        incident = group.incident
        assert incident is not None
        counted = Tally.from_json(incident.stats)
        touched.append((incident, counted))
        if not group.existed:
            opened = f"Incident INC-{incident.number} opened"
            timeline.add(
                session, incident, EventKind.INCIDENT_CREATED, opened, at=incident.opened_at
            )
        incident.opened_at = min(incident.opened_at, group.first_alert_at)
        incident.last_alert_at = max(incident.last_alert_at, group.last_alert_at)
        incident.service_ids = sorted({str(s) for s in group.service_ids})
        # Keys new to the incident: not known to it nor to those merging into it (theirs
        # are copied whole).
        merging = [src.incident.id for src, _ in _merged(group) if src.incident is not None]
        keys.copies.extend((source, incident.id) for source in merging)
        had = set().union(*(keys.known.get(i, set()) for i in (incident.id, *merging)))
        if group.label_keys - had:
            keys.fresh[incident.id] = group.label_keys - had
        fired: list[Alert] = []
        for member in (group, *(source for source, _ in _merged(group))):
            for alert, match in member.joined:
                if alert.id is None:
                    alert.id = uuid.uuid4()
                counted.add(alert)
                alert.incident_id = incident.id
                alert.grouping = _explain(match, incident, window)
                fired.append(alert)
        for source, why in _merged(group):
            if source.incident is not None:
                counted.absorb(Tally.from_json(source.incident.stats))
                await _absorb(session, source.incident, incident, why, now)
                touched.append((source.incident, Tally()))
        alert_events.add(session, incident, EventKind.ALERT_FIRED, "fired", fired, now)
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


async def last_number(session: AsyncSession, org_id: uuid.UUID) -> int:
    """The organisation's highest incident number (0 before its first); new incidents
    take the numbers after it, under `lock_alerts`."""
    found = await session.scalar(select(func.max(Incident.number)).where(Incident.org_id == org_id))
    return int(found or 0)
