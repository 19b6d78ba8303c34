"""The dispatcher: reads the incidents' timeline as an outbox (incident opened,
acknowledged, resolved, reopened), finds the rules each event fires, and queues one
delivery per channel. Incidents know nothing of notifications; they only write their
timeline, in the transaction that changes them.

Each pass reads the events written since the cursor, and again those of the last
`LOOKBACK` before it: a transaction that committed late (its events carry the time they
were written, not when they became visible) is not missed. What is read twice is not sent
twice: a delivery's id is derived from the event and the channel, and the queue drops a
message whose deduplication id it has seen in the last five minutes.

Noise control: each rule fires at most `max_per_hour` times in an hour for incidents of
one pattern (`noise`), and alerts joining an incident already notified become one
update per consolidation window (`consolidation`), not a message each.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents.kinds import EventKind, Severity
from loom.incidents.models import Change, ChangeCorrelation, Incident, IncidentEvent
from loom.notify import consolidation, delivery, escalation, noise
from loom.notify.maintenance import muting
from loom.notify.message import IncidentMessage, NotifyEvent, RelatedChange
from loom.notify.models import (
    Channel,
    MaintenanceWindow,
    OutboxCursor,
    Policy,
    Rule,
)
from loom.notify.rules import Facts, RuleBook, firing, first_alert_labels
from loom.queue.protocol import Queue
from loom.services.models import Service

#: Timeline kinds that are notification events.
EVENTS = {
    EventKind.INCIDENT_CREATED.value: NotifyEvent.OPENED,
    EventKind.ACKNOWLEDGED.value: NotifyEvent.ACKNOWLEDGED,
    EventKind.RESOLVED.value: NotifyEvent.RESOLVED,
    EventKind.REOPENED.value: NotifyEvent.REOPENED,
    # Only a raise (`notify_event`): a lowered severity notifies nobody.
    EventKind.SEVERITY_CHANGED.value: NotifyEvent.SEVERITY_RAISED,
}
LOOKBACK = timedelta(seconds=10)
CURSOR = "incident_events"
#: Delivery ids are derived from (event, channel) in this namespace.
_DELIVERIES = uuid.UUID("6c0c8a52-5d3e-4c61-9d0f-2f7f0b1f5a10")


async def dispatch(
    session: AsyncSession,
    queue: Queue,
    *,
    portal_url: str,
    now: datetime,
    seen: dict[uuid.UUID, datetime] | None = None,
    limit: int = 500,
    consolidate_seconds: float = 120.0,
) -> Pass:
    """One pass. `seen`: the events this process dispatched in committed passes (id ->
    written at), skipped when read again; the caller adds `Pass.dispatched` to it once
    this pass is committed, and may drop what is older than `Pass.floor`.
    `consolidate_seconds`: the consolidation window of updates."""
    seen = seen or {}
    cursor = await open_cursor(session, CURSOR, now)
    events = list(
        await session.scalars(
            select(IncidentEvent)
            .where(
                IncidentEvent.kind.in_([*EVENTS, *consolidation.KINDS]),
                IncidentEvent.created_at > cursor.at - LOOKBACK,
            )
            .order_by(IncidentEvent.created_at, IncidentEvent.id)
            .limit(limit)
        )
    )
    done = Pass(floor=cursor.at - LOOKBACK)
    events = [e for e in events if e.id not in seen]
    if not events:
        return done
    incidents = {
        i.id: i
        for i in await session.scalars(
            select(Incident).where(Incident.id.in_({e.incident_id for e in events}))
        )
    }
    context = await _Context.load(session, list(incidents.values()))
    plans: dict[uuid.UUID, tuple[IncidentMessage, list[Rule], str]] = {}
    for event in events:
        incident = incidents.get(event.incident_id)
        kind = notify_event(event)
        if incident is not None and kind is not None:
            message = context.message(incident, kind, event.at, event.actor, portal_url)
            key = noise.pattern(incident, context.slugs(incident))
            plans[event.id] = (message, context.rules_for(incident, message), key)
    limits = await noise.HourlyLimits.load(
        session, [(e, *plans[e.id][1:]) for e in events if e.id in plans]
    )
    created = {e.incident_id: e for e in events if e.kind == EventKind.INCIDENT_CREATED}
    timers = consolidation.Timers(queue, consolidate_seconds, now)
    for event in events:
        incident = incidents.get(event.incident_id)
        if incident is None:
            continue
        if event.id not in plans:
            if event.kind in consolidation.KINDS and not consolidation.opened_with(
                event, created.get(incident.id)
            ):
                await timers.note(session, incident, event)  # alerts joined or resolved
            done.dispatched[event.id] = event.created_at  # or a lowered severity: nothing
            continue
        message, rules, key = plans[event.id]
        fired, limited = limits.admit(session, rules, event, key)
        channels, policies = context.targets(fired)
        window = muting(
            context.windows.get(incident.org_id, []), incident.id, context.slugs(incident),
            event.at,
        )  # fmt: skip
        if message.event in (NotifyEvent.ACKNOWLEDGED, NotifyEvent.RESOLVED):
            await escalation.stop(session, incident.id, event.actor, event.created_at)
        for rule in limited:
            why = noise.limited_because(rule)
            await noise.muted(
                session, event.id, incident.id, message, context.targets([rule])[0], why
            )
        if window is not None:
            why = f"muted by maintenance window '{window.name}'"
            await noise.muted(session, event.id, incident.id, message, channels, why)
            done.dispatched[event.id] = event.created_at
            continue
        if message.event in (NotifyEvent.OPENED, NotifyEvent.REOPENED):
            for policy in policies:
                await escalation.start(session, queue, incident, policy, now, event.created_at)
        for channel in channels:
            delivery_id = uuid.uuid5(_DELIVERIES, f"{event.id}:{channel.id}")
            sent = await delivery.enqueue(
                queue, channel, message, session=session, delivery_id=delivery_id
            )
            done.queued += sent is not None
        done.dispatched[event.id] = event.created_at
    cursor.at = max(cursor.at, events[-1].created_at)
    return done


def notify_event(event: IncidentEvent) -> NotifyEvent | None:
    """The notification event a timeline entry is, if any: a severity change is one only
    when the new severity ranks above the old."""
    if event.kind != EventKind.SEVERITY_CHANGED.value:
        return EVENTS.get(event.kind)
    try:
        raised = Severity(event.data["to"]).rank > Severity(event.data["from"]).rank
    except (KeyError, TypeError, ValueError):
        return None
    return NotifyEvent.SEVERITY_RAISED if raised else None


@dataclass
class Pass:
    """What one pass did."""

    #: Events read again before this are no longer read: `seen` entries older may go.
    floor: datetime
    queued: int = 0
    dispatched: dict[uuid.UUID, datetime] = field(default_factory=dict)

    def remember(self, seen: dict[uuid.UUID, datetime]) -> None:
        """Once the pass is committed (a pass rolled back dispatched nothing): add what it
        dispatched to `seen`, and drop what is no longer read again."""
        seen.update(self.dispatched)
        for event_id in [i for i, at in seen.items() if at <= self.floor]:
            del seen[event_id]


async def open_cursor(session: AsyncSession, name: str, now: datetime) -> OutboxCursor:
    """The cursor `name`, locked for this pass (replicas take turns); a new one starts
    `LOOKBACK` ago."""
    cursor = await session.get(OutboxCursor, name, with_for_update=True)
    if cursor is None:
        cursor = OutboxCursor(name=name, at=now - LOOKBACK)
        session.add(cursor)
        await session.flush()
    return cursor


class _Context:
    """What building and routing a batch of events reads, read once."""

    #: Incident id -> the labels of its first alert (only when a rule looks at labels).
    labels: dict[uuid.UUID, dict[str, str]]

    def __init__(
        self,
        book: RuleBook,
        services: dict[str, Service],
        changes: dict[uuid.UUID, RelatedChange],
        policies: dict[uuid.UUID, Policy],
        windows: dict[uuid.UUID, list[MaintenanceWindow]],
    ) -> None:
        self.windows = windows
        self.policies = policies
        self.book = book
        self.services = services
        self.changes = changes

    @classmethod
    async def load(cls, session: AsyncSession, incidents: Sequence[Incident]) -> _Context:
        orgs = {i.org_id for i in incidents}
        book = await RuleBook.load(session, orgs)
        ids = {uuid.UUID(s) for i in incidents for s in i.service_ids}
        services: dict[str, Service] = {}
        if ids:
            services = {
                str(s.id): s
                for s in await session.scalars(select(Service).where(Service.id.in_(ids)))
            }
        changes: dict[uuid.UUID, RelatedChange] = {}
        best = await session.execute(
            select(ChangeCorrelation.incident_id, ChangeCorrelation.score, Change)
            .join(Change, Change.id == ChangeCorrelation.change_id)
            .where(ChangeCorrelation.incident_id.in_([i.id for i in incidents]))
            .order_by(ChangeCorrelation.score)
        )
        for incident_id, score, change in best:  # best last: it stays
            what = change.title or " ".join(filter(None, [change.type, change.version]))
            changes[incident_id] = RelatedChange(what, score, change.url)
        policy_ids = {r.policy_id for r in book.every_rule() if r.policy_id}
        policies: dict[uuid.UUID, Policy] = {}
        if policy_ids:
            policies = {
                p.id: p
                for p in await session.scalars(select(Policy).where(Policy.id.in_(policy_ids)))
            }
        windows: dict[uuid.UUID, list[MaintenanceWindow]] = {}
        found_windows = await session.scalars(
            select(MaintenanceWindow).where(MaintenanceWindow.org_id.in_(orgs))
        )
        for window in found_windows:
            windows.setdefault(window.org_id, []).append(window)
        context = cls(book, services, changes, policies, windows)
        context.labels = await first_alert_labels(
            session, [i.id for i in incidents], book.every_rule()
        )
        return context

    def slugs(self, incident: Incident) -> list[str]:
        return [self.services[s].slug for s in incident.service_ids if s in self.services]

    def message(
        self,
        incident: Incident,
        event: NotifyEvent,
        at: datetime,
        actor: str,
        portal_url: str,
    ) -> IncidentMessage:
        root = incident.root_cause[0] if incident.root_cause else {}
        reasons = root.get("reasons") or []
        return IncidentMessage(
            event=event, incident_id=str(incident.id), ref=f"INC-{incident.number}",
            title=incident.title, status=incident.status, severity=incident.severity,
            opened_at=incident.opened_at, at=at,
            url=f"{portal_url.rstrip('/')}/ui/incidents/INC-{incident.number}",
            environment=incident.environment, root_cause=root.get("service"),
            root_cause_reason=str(reasons[0]) if reasons else None,
            services=tuple(str(a["service"]) for a in incident.affected),
            alert_count=incident.alert_count, firing_count=incident.firing_count,
            related_change=self.changes.get(incident.id),
            actor=actor if actor not in ("system", "") else None,
        )  # fmt: skip

    def rules_for(self, incident: Incident, message: IncidentMessage) -> list[Rule]:
        """The rules the message fires, in order."""
        services = [self.services[s] for s in incident.service_ids if s in self.services]
        facts = Facts(
            event=message.event, severity=incident.severity,
            services=frozenset(s.slug for s in services), environment=incident.environment,
            team_ids=frozenset(s.team_id for s in services),
            labels=self.labels.get(incident.id, {}), at=message.at,
        )  # fmt: skip
        return firing(self.book.of(incident.org_id), facts)

    def targets(self, rules: list[Rule]) -> tuple[list[Channel], list[Policy]]:
        """The channels and the escalation policies of `rules`."""
        policies: dict[uuid.UUID, Policy] = {}
        for rule in rules:
            if rule.policy_id is not None and rule.policy_id in self.policies:
                policies.setdefault(rule.policy_id, self.policies[rule.policy_id])
        return self.book.channels_of(rules), list(policies.values())


async def incident_message(
    session: AsyncSession, incident: Incident, event: NotifyEvent, at: datetime, portal_url: str
) -> IncidentMessage:
    """The message about `incident` now (an escalation level's, say)."""
    context = await _Context.load(session, [incident])
    return context.message(incident, event, at, "system", portal_url)


async def update_message(
    session: AsyncSession, incident: Incident, at: datetime, portal_url: str
) -> IncidentMessage | None:
    """The consolidated update about `incident` now; None while a maintenance window or
    a snooze mutes it."""
    context = await _Context.load(session, [incident])
    windows = context.windows.get(incident.org_id, [])
    if muting(windows, incident.id, context.slugs(incident), at) is not None:
        return None
    return context.message(incident, NotifyEvent.UPDATED, at, "system", portal_url)
