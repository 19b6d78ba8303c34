"""Grouping by hand: merge two incidents, split alerts off into a new incident, move one
alert to another incident.

Each runs under `pipeline.lock_alerts`, the lock alert ingestion groups under, so a
person and a batch of alerts never regroup the same organisation at once (and numbers
of new incidents stay unique). Alerts moved by a person say so in their `grouping`
("moved by ann@example.com from INC-3"); every incident touched gets timeline events,
an audit entry names the person, and ends refreshed (`refresh.refresh_incidents`).

Rules: an incident cannot lose its last alert by a split or a move (merge it instead);
alerts only go to open incidents; a merged incident is resolved, points at the one it
was merged into (`merged_into_id`) and takes no further merges, splits or moves.
A split-off incident opens at its earliest alert's start, like the pipeline's do (so its
MTTA counts from when its alerts began), as triggered: someone acknowledges it anew.
The grouping labels kept for the incidents touched (`labels`) are recomputed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.errors import Conflict, FieldIssue, InvalidInput
from loom.incidents import labels, pipeline, refresh, timeline
from loom.incidents.kinds import OPEN, EventKind, GroupingStrategy, IncidentStatus, Severity
from loom.incidents.lifecycle import apply_status, name
from loom.incidents.models import Alert, Incident
from loom.incidents.queries import get_incident
from loom.incidents.responders import require_responder
from loom.settings import IncidentSettings


def _grouping(verb: str, principal: Principal, source: Incident, to: Incident) -> dict[str, Any]:
    return {
        "strategy": GroupingStrategy.MANUAL.value,
        "text": f"{verb} by {principal.email} from {name(source)}",
        "incident_number": to.number,
    }


async def _finish(
    session: AsyncSession, incidents: list[Incident], settings: IncidentSettings, now: datetime
) -> None:
    await session.flush()
    # So later alerts group with the incident that now holds the matching ones.
    await labels.recompute(session, [i.id for i in incidents], tuple(settings.grouping_labels))
    await refresh.refresh_incidents(session, incidents, settings=settings, now=now)


def _require_open(incident: Incident, field: str) -> None:
    if incident.status not in OPEN:
        raise Conflict(
            f"{name(incident)} is {incident.status}: reopen it first",
            [FieldIssue(field, f"{name(incident)} is not open")],
        )


def _require_unmerged(incident: Incident, field: str) -> None:
    if incident.merged_into_id is not None:
        raise Conflict(
            f"{name(incident)} was merged into another incident",
            [FieldIssue(field, f"{name(incident)} is merged")],
        )


async def _audit(
    session: AsyncSession, principal: Principal, incident: Incident, verb: str, **after: Any
) -> None:
    await audit.record(
        session, org_id=incident.org_id, actor=principal, action=f"incident.{verb}",
        target_type="incident", target_id=incident.id, after=after,
    )  # fmt: skip


async def _move_alerts(
    session: AsyncSession, alert_filter: Any, to: Incident, grouping: dict[str, Any]
) -> None:
    await session.execute(
        update(Alert)
        .where(alert_filter)
        .values(incident_id=to.id, grouping=grouping)
        .execution_options(synchronize_session="fetch")
    )


async def merge(
    session: AsyncSession,
    principal: Principal,
    ref: str,
    into: str,
    *,
    settings: IncidentSettings,
    note: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Move every alert of `ref` into `into`; `ref` resolves as merged into it. Returns
    the incident merged into."""
    now = now or utcnow()
    require_responder(principal)
    await pipeline.lock_alerts(session, principal.org_id)
    source = await get_incident(session, principal, ref, for_update=True)
    target = await get_incident(session, principal, into, for_update=True)
    if source.id == target.id:
        raise InvalidInput.on("into", "an incident cannot be merged into itself")
    _require_unmerged(source, "into")
    _require_unmerged(target, "into")
    _require_open(target, "into")
    moved = await session.scalar(
        select(func.count()).select_from(Alert).where(Alert.incident_id == source.id)
    )
    await _move_alerts(
        session,
        Alert.incident_id == source.id,
        target,
        _grouping("merged", principal, source, target),
    )
    data: dict[str, Any] = {"into": target.number, "alerts": moved or 0}
    if note:
        data["note"] = note
    if source.status in OPEN:
        apply_status(
            session, source, IncidentStatus.RESOLVED, actor=principal, now=now,
            note=f"merged into {name(target)}", data={"merged_into": target.number},
        )  # fmt: skip
    source.merged_into_id = target.id
    target.last_alert_at = max(target.last_alert_at, source.last_alert_at)
    timeline.add(
        session, source, EventKind.MERGED, f"Merged into {name(target)}", actor=principal,
        at=now, data=data,
    )  # fmt: skip
    timeline.add(
        session, target, EventKind.MERGED, f"{name(source)} merged into this incident "
        f"({moved or 0} alerts)", actor=principal, at=now,
        data={"from": source.number, "alerts": moved or 0, **({"note": note} if note else {})},
    )  # fmt: skip
    await _audit(session, principal, source, "merge", **data)
    await _finish(session, [source, target], settings, now)
    return target


async def _alerts_of(
    session: AsyncSession, incident: Incident, ids: list[uuid.UUID], field: str
) -> list[Alert]:
    wanted = list(dict.fromkeys(ids))
    found = {
        a.id: a
        for a in await session.scalars(
            select(Alert).where(Alert.org_id == incident.org_id, Alert.id.in_(wanted))
        )
    }
    for alert_id in wanted:
        alert = found.get(alert_id)
        if alert is None or alert.incident_id != incident.id:
            raise InvalidInput.on(field, f"alert {alert_id} is not in {name(incident)}")
    return [found[i] for i in wanted]


async def _keeps_an_alert(
    session: AsyncSession, incident: Incident, leaving: int, field: str
) -> None:
    total = await session.scalar(
        select(func.count()).select_from(Alert).where(Alert.incident_id == incident.id)
    )
    if (total or 0) - leaving < 1:
        raise InvalidInput.on(
            field, f"{name(incident)} would be left without alerts: merge it instead"
        )


async def split(
    session: AsyncSession,
    principal: Principal,
    ref: str,
    alert_ids: list[uuid.UUID],
    *,
    settings: IncidentSettings,
    note: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Move `alert_ids` (alerts of `ref`) into a new incident, which is returned."""
    now = now or utcnow()
    require_responder(principal)
    await pipeline.lock_alerts(session, principal.org_id)
    source = await get_incident(session, principal, ref, for_update=True)
    _require_unmerged(source, "alerts")
    _require_open(source, "alerts")
    alerts = await _alerts_of(session, source, alert_ids, "alerts")
    await _keeps_an_alert(session, source, len(alerts), "alerts")
    worst = max((Severity(a.severity) for a in alerts), key=lambda s: s.rank)
    created = Incident(
        org_id=source.org_id,
        number=await pipeline.last_number(session, source.org_id) + 1,
        title=f"Split from {name(source)}",
        status=IncidentStatus.TRIGGERED.value,
        severity=worst.value,
        environment=source.environment,
        opened_at=min(a.starts_at for a in alerts),
        last_alert_at=max(a.starts_at for a in alerts),
        alert_count=len(alerts),
        firing_count=sum(1 for a in alerts if a.status == "firing"),
    )
    session.add(created)
    await session.flush()
    await _move_alerts(
        session, Alert.id.in_([a.id for a in alerts]), created,
        _grouping("split", principal, source, created),
    )  # fmt: skip
    moved = [str(a.id) for a in alerts]
    timeline.add(
        session, source, EventKind.SPLIT, f"{len(alerts)} alerts split into {name(created)}",
        actor=principal, at=now,
        data={"into": created.number, "alerts": moved, **({"note": note} if note else {})},
    )  # fmt: skip
    timeline.add(
        session, created, EventKind.INCIDENT_CREATED,
        f"Split from {name(source)} by {principal.email}", actor=principal, at=now,
        data={"from": source.number, "alerts": moved, "strategy": GroupingStrategy.MANUAL.value},
    )  # fmt: skip
    await _audit(session, principal, source, "split", into=created.number, alerts=moved)
    await _finish(session, [source, created], settings, now)
    return created


async def move_alert(
    session: AsyncSession,
    principal: Principal,
    ref: str,
    alert_id: uuid.UUID,
    to: str,
    *,
    settings: IncidentSettings,
    now: datetime | None = None,
) -> Incident:
    """Move one alert of `ref` to the incident `to`, which is returned."""
    now = now or utcnow()
    require_responder(principal)
    await pipeline.lock_alerts(session, principal.org_id)
    source = await get_incident(session, principal, ref, for_update=True)
    target = await get_incident(session, principal, to, for_update=True)
    if source.id == target.id:
        raise InvalidInput.on("to", f"the alert is already in {name(source)}")
    _require_unmerged(target, "to")
    _require_open(target, "to")
    (alert,) = await _alerts_of(session, source, [alert_id], "alert")
    await _keeps_an_alert(session, source, 1, "alert")
    await _move_alerts(
        session, Alert.id == alert.id, target, _grouping("moved", principal, source, target)
    )
    target.last_alert_at = max(target.last_alert_at, min(alert.starts_at, now))
    data = {"alert": str(alert.id), "name": alert.name, "from": source.number, "to": target.number}
    timeline.add(
        session, source, EventKind.ALERT_MOVED, f"Alert {alert.name} moved to {name(target)}",
        actor=principal, at=now, data=data,
    )  # fmt: skip
    timeline.add(
        session, target, EventKind.ALERT_MOVED, f"Alert {alert.name} moved here from "
        f"{name(source)}", actor=principal, at=now, data=data,
    )  # fmt: skip
    await _audit(session, principal, source, "move_alert", **data)
    await _finish(session, [source, target], settings, now)
    return target
