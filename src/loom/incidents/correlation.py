"""Change correlation: how likely a change caused an incident, scored 0-100 from four
parts, each explained, and the stored suggestions (`ChangeCorrelation`) kept in step.

    total = 40 * time + 35 * service + 10 * environment + 15 * type

* time: 1.0 at the first alert, falling linearly to 0 at the window's start (a change
  made while the incident runs, after its first alert, gets a little: it may have made
  things worse, it did not start them);
* service: the incident's own service 1.0, one its services depend on (within
  `topology_hops`) 0.6, anything else or none 0;
* environment: the same 1.0, either unknown 0.5, another 0;
* type: deployment 1.0, config 0.8, feature flag 0.7, infrastructure 0.6, scaling 0.4.

A change outside the window scores 0 whatever else it shares with the incident.
`score` is pure; `correlate` reads an incident's candidate changes in one query, its
existing suggestions in another (and walks the graph once when a candidate is on a
service outside the incident), and upserts them (verdicts are never lost). A change
first suggested for an incident with a score of at least `TIMELINE_MIN_SCORE` goes on
the incident's timeline (`change`, at the change's time), whether the change or the
incident came first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.errors import NotFound
from loom.incidents import timeline
from loom.incidents.kinds import ChangeType, EventKind, Verdict
from loom.incidents.models import Change, ChangeCorrelation, Incident
from loom.incidents.responders import require_responder
from loom.incidents.topology import Topology
from loom.settings import IncidentSettings

WEIGHTS = {"time": 40, "service": 35, "environment": 10, "type": 15}
TYPE_FACTOR = {
    ChangeType.DEPLOYMENT: 1.0,
    ChangeType.CONFIG: 0.8,
    ChangeType.FEATURE_FLAG: 0.7,
    ChangeType.INFRASTRUCTURE: 0.6,
    ChangeType.SCALING: 0.4,
}
DEPENDENCY_FACTOR = 0.6
#: The time part of a change made after the first alert (while the incident runs).
DURING_INCIDENT_FACTOR = 0.25
#: Suggestions scoring this much go on the incident's timeline too (every deployment of
#: a busy organisation in the window would drown it otherwise); all are listed.
TIMELINE_MIN_SCORE = 50


@dataclass(frozen=True)
class Score:
    total: int
    time: float
    service: float
    environment: float
    type: float
    reasons: list[str] = field(default_factory=list)

    def parts(self) -> dict[str, Any]:
        """What `ChangeCorrelation.parts` stores."""
        return {
            "time": self.time, "service": self.service, "environment": self.environment,
            "type": self.type, "reasons": list(self.reasons),
        }  # fmt: skip


def _minutes(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _time_part(
    happened_at: datetime, first_alert_at: datetime, window: timedelta
) -> tuple[float, str]:
    before = first_alert_at - happened_at
    if before < timedelta(0):
        return DURING_INCIDENT_FACTOR, f"made {_minutes(-before)} after the first alert"
    if before > window:
        return (
            0.0,
            f"made {_minutes(before)} before the first alert, "
            f"outside the {_minutes(window)} window",
        )
    factor = 1.0 - before / window if window > timedelta(0) else 1.0
    return factor, f"made {_minutes(before)} before the first alert"


def score(
    change: Change,
    *,
    first_alert_at: datetime,
    incident_service_ids: set[uuid.UUID],
    upstream_ids: set[uuid.UUID],
    environment: str | None,
    window: timedelta,
) -> Score:
    """How likely `change` caused an incident whose first alert fired at `first_alert_at`
    on `incident_service_ids`; `upstream_ids` are the services those depend on."""
    time, time_reason = _time_part(change.happened_at, first_alert_at, window)
    reasons = [time_reason]
    if change.service_id is not None and change.service_id in incident_service_ids:
        service, why = 1.0, "on a service of the incident"
    elif change.service_id is not None and change.service_id in upstream_ids:
        service, why = DEPENDENCY_FACTOR, "on a service the incident's services depend on"
    elif change.service_id is None:
        service, why = 0.0, "names no service"
    else:
        service, why = 0.0, "on a service not related to the incident"
    reasons.append(why)
    if change.environment is None or environment is None:
        env, why = 0.5, "environment unknown"
    elif change.environment == environment:
        env, why = 1.0, f"same environment ({environment})"
    else:
        env, why = 0.0, f"another environment ({change.environment}, incident in {environment})"
    reasons.append(why)
    kind = ChangeType(change.type)
    type_factor = TYPE_FACTOR[kind]
    reasons.append(f"a {kind.value.replace('_', ' ')} (type weight {type_factor:g})")
    if time == 0.0:
        total = 0
    else:
        total = round(
            WEIGHTS["time"] * time + WEIGHTS["service"] * service
            + WEIGHTS["environment"] * env + WEIGHTS["type"] * type_factor
        )  # fmt: skip
    return Score(
        total=max(0, min(100, total)), time=round(time, 3), service=service, environment=env,
        type=type_factor, reasons=reasons,
    )  # fmt: skip


def window_of(settings: IncidentSettings) -> timedelta:
    return timedelta(minutes=settings.change_window_minutes)


async def _dependencies(
    session: AsyncSession,
    incident: Incident,
    own: set[uuid.UUID],
    hops: int,
    topology: Topology | None,
) -> set[uuid.UUID]:
    """What the incident's services call, within `hops`: from `topology` when the caller
    has walked the graph around them already, else one walk."""
    if topology is None:
        topology = await Topology.around(session, incident.org_id, own, hops)
    below = {node for sid in own for node in topology.reach(sid, "down", hops)}
    return below - own


async def _correlate(
    session: AsyncSession,
    incident: Incident,
    *,
    settings: IncidentSettings,
    now: datetime,
    topology: Topology | None = None,
) -> list[tuple[Change, Score]]:
    window = window_of(settings)
    candidates = list(
        (
            await session.scalars(
                select(Change).where(
                    Change.org_id == incident.org_id,
                    Change.happened_at >= incident.opened_at - window,
                    Change.happened_at <= max(incident.last_alert_at, incident.opened_at),
                )
            )
        ).all()
    )
    existing = {
        c.change_id: c
        for c in (
            await session.scalars(
                select(ChangeCorrelation).where(ChangeCorrelation.incident_id == incident.id)
            )
        ).all()
    }
    own = {uuid.UUID(s) for s in incident.service_ids}
    upstream: set[uuid.UUID] = set()
    if own and any(c.service_id is not None and c.service_id not in own for c in candidates):
        upstream = await _dependencies(session, incident, own, settings.topology_hops, topology)
    scored: dict[uuid.UUID, tuple[Change, Score]] = {}
    for change in candidates:
        result = score(
            change, first_alert_at=incident.opened_at, incident_service_ids=own,
            upstream_ids=upstream, environment=incident.environment, window=window,
        )  # fmt: skip
        if result.total <= 0:
            continue
        scored[change.id] = (change, result)
        row = existing.get(change.id)
        if row is None:
            if result.total >= TIMELINE_MIN_SCORE:
                _on_timeline(session, incident, change, result)
            session.add(
                ChangeCorrelation(
                    org_id=incident.org_id, incident_id=incident.id, change_id=change.id,
                    score=result.total, parts=result.parts(), created_at=now, updated_at=now,
                )
            )  # fmt: skip
        elif row.score != result.total or row.parts != result.parts():
            row.score, row.parts, row.updated_at = result.total, result.parts(), now
    for change_id, row in existing.items():
        if change_id not in scored and row.verdict is None:
            await session.delete(row)
    await session.flush()
    return list(scored.values())


def _on_timeline(session: AsyncSession, incident: Incident, change: Change, result: Score) -> None:
    """A change suggested for an incident goes on its timeline, at its time."""
    what = change.title or " ".join(filter(None, [change.type, change.version]))
    timeline.add(
        session, incident, EventKind.CHANGE, f"Related change: {what} (score {result.total})",
        actor=change.author, at=change.happened_at,
        data={"change_id": str(change.id), "score": result.total, "parts": result.parts()},
    )  # fmt: skip


async def correlate_changes(
    session: AsyncSession, incident: Incident, *, settings: IncidentSettings, now: datetime
) -> dict[uuid.UUID, Score]:
    """Score the changes in `incident`'s window and upsert its suggestions; the scores
    of the changes that score (> 0), by change id."""
    return {c.id: s for c, s in await _correlate(session, incident, settings=settings, now=now)}


async def correlate(
    session: AsyncSession,
    incident: Incident,
    *,
    settings: IncidentSettings,
    now: datetime,
    topology: Topology | None = None,
) -> dict[uuid.UUID, int]:
    """Refresh `incident`'s related changes; the best score per changed service id (the
    root-cause ranking reads it). `topology`: the graph already walked around the
    incident's services, at least `settings.topology_hops` deep (saves a walk)."""
    best: dict[uuid.UUID, int] = {}
    scored = await _correlate(session, incident, settings=settings, now=now, topology=topology)
    for change, result in scored:
        if change.service_id is not None:
            best[change.service_id] = max(best.get(change.service_id, 0), result.total)
    return best


def correlations_query(incident: Incident) -> Any:
    """The incident's suggestions with their changes, best first."""
    return (
        select(ChangeCorrelation, Change)
        .join(Change, Change.id == ChangeCorrelation.change_id)
        .where(ChangeCorrelation.incident_id == incident.id)
        .order_by(ChangeCorrelation.score.desc(), Change.happened_at.desc(), Change.id)
    )


async def set_verdict(
    session: AsyncSession,
    principal: Principal,
    incident: Incident,
    change_id: uuid.UUID,
    verdict: Verdict,
    note: str = "",
    *,
    now: datetime | None = None,
) -> ChangeCorrelation:
    """A responder (`responders.require_responder`) confirms or rejects a suggestion."""
    require_responder(principal)
    now = now or utcnow()
    row = await session.scalar(
        select(ChangeCorrelation).where(
            ChangeCorrelation.incident_id == incident.id,
            ChangeCorrelation.change_id == change_id,
        )
    )
    if row is None:
        raise NotFound(f"change '{change_id}' is not related to incident INC-{incident.number}")
    before = {"verdict": row.verdict, "note": row.verdict_note}
    row.verdict, row.verdict_by, row.verdict_at = verdict.value, principal.email, now
    row.verdict_note = note
    row.updated_at = now
    await audit.record(
        session, org_id=incident.org_id, actor=principal, action="incident.correlation_verdict",
        target_type="incident", target_id=incident.id, before=before,
        after={"change_id": str(change_id), "verdict": verdict.value, "note": note},
    )  # fmt: skip
    timeline.add(
        session, incident, EventKind.CORRELATION_VERDICT,
        f"{principal.email} {verdict.value} the related change (score {row.score})",
        actor=principal, at=now,
        data={"change_id": str(change_id), "verdict": verdict.value, "note": note},
    )  # fmt: skip
    await session.flush()
    return row
