"""Storing a batch of alerts: deduplicated by fingerprint into episodes, silenced where a
silence matches, then handed to the pipeline (grouping into incidents).

The current episode of a fingerprint is its newest row that still fires, or whose
incident is still open. A repeat while firing bumps `count` and `last_seen`; a resolve
ends it; a fire after a resolve while its incident is open fires the same row again;
anything else starts a new row. One batch costs a fixed number of queries, whatever its
size: the services, the silences, the lock, the current episodes, one UPDATE of the rows
seen again; the new rows are inserted in one statement once the pipeline has given them
their incident.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import get_history

from loom.db.filters import one_of
from loom.incidents import pipeline, service_mapping, silences
from loom.incidents.kinds import OPEN, AlertSourceKind, AlertStatus
from loom.incidents.models import Alert, AlertSource, Incident
from loom.incidents.normalize import AlertIn, Rejected
from loom.settings import IncidentSettings


@dataclass
class IngestSummary:
    accepted: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    #: Numbers of the incidents the batch opened or touched, ascending.
    incidents: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": [r.as_dict() for r in self.rejected],
            "incidents": self.incidents,
        }


async def current_episodes(
    session: AsyncSession, org_id: uuid.UUID, fingerprints: Sequence[str]
) -> dict[str, Alert]:
    """The current episode of each fingerprint that has one (one query)."""
    if not fingerprints:
        return {}
    open_statuses = [s.value for s in OPEN]
    stmt = (
        select(Alert)
        .outerjoin(Incident, Incident.id == Alert.incident_id)
        .where(
            Alert.org_id == org_id,
            one_of(session, Alert.fingerprint, sorted(set(fingerprints))),
            or_(Alert.status == AlertStatus.FIRING.value, Incident.status.in_(open_statuses)),
        )
        .order_by(Alert.first_seen, Alert.created_at)
    )
    return {row.fingerprint: row for row in await session.scalars(stmt)}


def _refresh(row: Alert, item: AlertIn, now: datetime) -> None:
    """What a repeat of a firing alert may change (assigned only when it did: a repeat
    usually changes nothing but its count, and JSON columns are costly to rewrite)."""
    row.last_seen = now
    if row.severity != item.severity.value:
        row.severity = item.severity.value
    if row.annotations != item.annotations:
        row.annotations = item.annotations
    if row.labels != item.labels:
        row.labels = item.labels
    if item.summary and row.summary != item.summary:
        row.summary = item.summary


@dataclass(frozen=True)
class Delivery:
    """One sender's batch (the alerts of one request, or of one job's run), ready to
    store: made by `prepare`."""

    source: AlertSource | None
    items: Sequence[AlertIn]
    #: The service of each item (None when it names none of the registry's).
    service_ids: Sequence[uuid.UUID | None]
    #: The organisation's silences in force when it arrived.
    silences: Sequence[silences.ActiveSilence]
    rejected: Sequence[Rejected] = ()
    #: The kind of sender when there is no source (the registry's own health checks).
    kind: AlertSourceKind | None = None

    @property
    def source_kind(self) -> str:
        source = self.source
        return (self.kind or AlertSourceKind(source.kind if source else "generic")).value


async def prepare(
    session: AsyncSession,
    org_id: uuid.UUID,
    source: AlertSource | None,
    items: Sequence[AlertIn],
    *,
    settings: IncidentSettings,
    now: datetime,
    rejected: Sequence[Rejected] = (),
    kind: AlertSourceKind | None = None,
) -> Delivery:
    """What storing `items` needs to read first (their services, the silences), read
    outside the organisation's alert lock: by the request, while other batches are
    being stored."""
    service_ids = await service_mapping.resolve(session, org_id, items, settings)
    active = await silences.active_silences(session, org_id, now)
    return Delivery(source, items, service_ids, active, rejected, kind)


async def store(
    session: AsyncSession,
    org_id: uuid.UUID,
    deliveries: Sequence[Delivery],
    *,
    settings: IncidentSettings,
    now: datetime,
) -> pipeline.StoredBatch:
    """Store the deliveries' alerts (in order: a fingerprint repeated counts each time,
    the last one's fields win) and say what changed. The caller owns the transaction."""
    items = [(d, item) for d in deliveries for item in d.items]
    service_ids = [service_id for d in deliveries for service_id in d.service_ids]
    active = deliveries[-1].silences  # the latest word on silences
    await pipeline.lock_alerts(session, org_id)
    current = await current_episodes(session, org_id, [i.fingerprint for _, i in items])
    new_rows: dict[str, Alert] = {}
    severity_was: dict[str, str] = {}  # what a repeat's severity was
    was: dict[str, str] = {}  # fingerprint -> the status its existing row had
    fired: set[str] = set()  # new rows that fired at some point of the batch

    for (delivery, item), service_id in zip(items, service_ids, strict=True):
        row = current.get(item.fingerprint)
        if row is None:
            source = delivery.source
            row = current[item.fingerprint] = new_rows[item.fingerprint] = Alert(
                id=uuid.uuid4(), org_id=org_id, source_id=source.id if source else None,
                source_kind=delivery.source_kind, fingerprint=item.fingerprint,
                status=item.status.value, severity=item.severity.value, name=item.name,
                summary=item.summary, labels=item.labels, annotations=item.annotations,
                service_id=service_id, environment=item.environment,
                generator_url=item.generator_url, starts_at=item.starts_at or item.ends_at or now,
                ends_at=item.ends_at, first_seen=now, last_seen=now, count=1, grouping={},
            )  # fmt: skip
            if item.status is AlertStatus.FIRING:
                fired.add(item.fingerprint)
            continue
        if item.fingerprint in new_rows:
            if item.status is AlertStatus.FIRING:
                fired.add(item.fingerprint)
        else:
            was.setdefault(item.fingerprint, row.status)
        row.count += 1
        row.last_seen = now
        if item.status is AlertStatus.FIRING:
            if row.severity != item.severity.value and severity_was.get(item.fingerprint) is None:
                severity_was[item.fingerprint] = row.severity
            _refresh(row, item, now)
            if row.status == AlertStatus.RESOLVED.value:
                row.status = AlertStatus.FIRING.value
                row.ends_at = None
        elif row.status == AlertStatus.FIRING.value:
            row.status = AlertStatus.RESOLVED.value
            row.ends_at = item.ends_at or now

    batch = pipeline.StoredBatch(
        severity_was={f: was for f, was in severity_was.items() if current[f].severity != was},
        rows=current,
    )
    for row in new_rows.values():
        # New and firing, or fired within the batch and resolved (as when two senders'
        # batches are taken together, in either order): it fired, so it is grouped, as
        # it would have been had the batches come apart.
        if row.fingerprint in fired:
            row.silence_id = silences.matching_silence(active, row.labels, now)
            (batch.silenced if row.silence_id else batch.opened).append(row)
        # a resolve of something never seen firing is kept and groups nothing
    for fingerprint, before in was.items():
        row = current[fingerprint]
        if row.silence_id is not None:
            batch.silenced.append(row)  # silenced for its whole episode
        elif row.status == AlertStatus.FIRING.value:
            refired = before == AlertStatus.RESOLVED.value
            (batch.refired if refired else batch.repeated).append(row)
        elif before == AlertStatus.FIRING.value:
            batch.resolved.append(row)
        # resolved before and after (maybe firing in between): no change to report
    await _update_seen_again(session, [current[fingerprint] for fingerprint in was], now)
    # Not added to the session: `insert_new` writes them once, with their incident.
    batch.new = list(new_rows.values())
    return batch


async def _update_seen_again(session: AsyncSession, rows: list[Alert], now: datetime) -> None:
    """Write the rows seen again in one batched UPDATE by primary key, every row the same
    columns (those any of them changed). The rows leave the session: nothing in the
    pipeline changes them further, and the unit of work would only write them again."""
    if not rows:
        return
    changed = [c for c in _SEEN_AGAIN if any(get_history(r, c).has_changes() for r in rows)]
    values = [{"id": r.id, "updated_at": now, **{c: getattr(r, c) for c in changed}} for r in rows]
    for row in rows:
        session.expunge(row)
    await session.execute(update(Alert), values)


#: Every column of a new alert row but those the database fills.
_NEW_COLUMNS = tuple(
    c.key for c in Alert.__mapper__.column_attrs if c.key not in ("created_at", "updated_at")
)


async def insert_new(session: AsyncSession, batch: pipeline.StoredBatch, now: datetime) -> None:
    """Insert the batch's new alert rows, with the incidents grouping gave them (which
    must be flushed by then), in one multi-row INSERT."""
    if batch.new:
        await session.execute(
            insert(Alert),
            [{"created_at": now, "updated_at": now, **{c: getattr(a, c) for c in _NEW_COLUMNS}}
             for a in batch.new],
        )  # fmt: skip


_SEEN_AGAIN = ("status", "ends_at", "last_seen", "count", "severity", "summary", "labels",
               "annotations")  # fmt: skip


async def ingest(
    session: AsyncSession,
    org_id: uuid.UUID,
    source: AlertSource | None,
    items: Sequence[AlertIn],
    *,
    settings: IncidentSettings,
    now: datetime,
    kind: AlertSourceKind | None = None,
    rejected: Sequence[Rejected] = (),
) -> IngestSummary:
    """Store and group `items`; the summary a sender gets back."""
    delivery = await prepare(
        session, org_id, source, items, settings=settings, now=now, rejected=rejected, kind=kind
    )
    (summary,) = await ingest_many(session, org_id, [delivery], settings=settings, now=now)
    return summary


async def ingest_many(
    session: AsyncSession,
    org_id: uuid.UUID,
    deliveries: Sequence[Delivery],
    *,
    settings: IncidentSettings,
    now: datetime,
) -> list[IngestSummary]:
    """Store and group the alerts of several deliveries at once (one lock, one pass of
    grouping); each delivery's summary names the incidents its own alerts are in."""
    batch = await store(session, org_id, deliveries, settings=settings, now=now)
    touched = {i.id: i.number for i in await pipeline.process(
        session, org_id, batch, settings=settings, now=now
    )}  # fmt: skip
    await session.flush()
    await insert_new(session, batch, now)
    summaries = []
    for delivery in deliveries:
        rows = (batch.rows[item.fingerprint] for item in delivery.items)
        numbers = {touched[r.incident_id] for r in rows if r.incident_id in touched}
        summaries.append(IngestSummary(
            accepted=len(delivery.items), rejected=list(delivery.rejected),
            incidents=sorted(numbers),
        ))  # fmt: skip
    return summaries
