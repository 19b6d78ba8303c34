"""Incidents and alerts made directly with the ORM, for tests that need incidents without
going through ingestion and grouping: `make_incident(session, org_id, ...)`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.db.types import utcnow
from loom.incidents import labels as incident_labels
from loom.incidents import tally
from loom.incidents.kinds import AlertSourceKind, AlertStatus, IncidentStatus, Severity
from loom.incidents.models import Alert, Incident
from loom.services.models import Service


async def _service_ids(
    session: AsyncSession, org_id: uuid.UUID, services: Sequence[uuid.UUID | str]
) -> list[uuid.UUID]:
    ids = []
    for s in services:
        if isinstance(s, uuid.UUID):
            ids.append(s)
            continue
        found = await session.scalar(
            select(Service.id).where(Service.org_id == org_id, Service.slug == s)
        )
        assert found is not None, f"no service {s!r}"
        ids.append(found)
    return ids


async def make_alert(
    session: AsyncSession,
    incident: Incident,
    *,
    service_id: uuid.UUID | None = None,
    name: str = "HighErrorRate",
    severity: Severity = Severity.WARNING,
    status: AlertStatus = AlertStatus.FIRING,
    seen: datetime | None = None,
    labels: dict[str, str] | None = None,
) -> Alert:
    seen = seen or incident.opened_at
    alert = Alert(
        org_id=incident.org_id, source_kind=AlertSourceKind.GENERIC.value,
        fingerprint=uuid.uuid4().hex, status=status.value, severity=severity.value,
        name=name, labels={"alertname": name, **(labels or {})}, annotations={},
        service_id=service_id,
        starts_at=seen, ends_at=seen if status is AlertStatus.RESOLVED else None,
        first_seen=seen, last_seen=seen, incident_id=incident.id,
        grouping={"strategy": "new", "text": "opened a new incident"},
    )  # fmt: skip
    session.add(alert)
    await session.flush()
    return alert


async def make_incident(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    services: Sequence[uuid.UUID | str] = (),
    alerts: int = 1,
    status: IncidentStatus = IncidentStatus.TRIGGERED,
    opened_at: datetime | None = None,
    severities: Sequence[Severity] = (Severity.WARNING,),
    firing: bool = True,
    quiet_since: datetime | None = None,
    hold_open: bool = False,
    title: str | None = None,
    labels: dict[str, str] | None = None,
) -> Incident:
    """An incident with `alerts` alerts spread over `services` (ids or slugs), with the
    given `severities` in turn; flushed, not committed. Counts, severity and service keys
    are filled in as the pipeline would."""
    opened_at = opened_at or utcnow() - timedelta(minutes=10)
    number = (
        await session.scalar(select(func.max(Incident.number)).where(Incident.org_id == org_id))
        or 0
    ) + 1
    service_ids = await _service_ids(session, org_id, services)
    worst = max(severities[: max(alerts, 1)], key=lambda s: s.rank)
    keys = sorted(f"{k}={v}" for k, v in (labels or {}).items())
    incident = Incident(
        org_id=org_id, number=number, title=title or f"Incident {number}", status=status.value,
        severity=worst.value, service_ids=sorted({str(s) for s in service_ids}),
        alert_count=alerts, firing_count=alerts if firing else 0, opened_at=opened_at,
        last_alert_at=opened_at, quiet_since=quiet_since, hold_open=hold_open,
        resolved_at=opened_at if status is IncidentStatus.RESOLVED else None,
    )  # fmt: skip
    session.add(incident)
    await session.flush()
    await incident_labels.add(session, {incident.id: keys})
    for n in range(alerts):
        await make_alert(
            session, incident,
            service_id=service_ids[n % len(service_ids)] if service_ids else None,
            severity=severities[n % len(severities)], name=f"Alert{n}",
            status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
            seen=opened_at + timedelta(seconds=n), labels=labels,
        )  # fmt: skip
    incident.stats = (await tally.recount(session, [incident.id]))[incident.id].to_json()
    await session.flush()
    return incident


@dataclass(frozen=True)
class Made:
    """What a test needs of an incident it made: its id, number, ref and alert ids."""

    id: uuid.UUID
    number: int
    alert_ids: list[uuid.UUID]

    @property
    def ref(self) -> str:
        return f"INC-{self.number}"


async def create_incident(app: FastAPI, org_id: uuid.UUID, **fields: Any) -> Made:
    """`make_incident` in a transaction of its own (committed)."""
    async with app.state.runtime.sessions() as s, s.begin():
        incident = await make_incident(s, org_id, **fields)
        alert_ids = list(await s.scalars(select(Alert.id).where(Alert.incident_id == incident.id)))
        return Made(id=incident.id, number=incident.number, alert_ids=alert_ids)
