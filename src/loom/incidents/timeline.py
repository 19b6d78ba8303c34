"""The incident timeline: one table of typed events (`kinds.EventKind`), appended in the
transaction of whatever happened, read oldest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit.service import Actor
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.incidents import schemas
from loom.incidents.kinds import EventKind
from loom.incidents.models import Incident, IncidentEvent

SYSTEM = "system"


def actor_name(actor: Principal | Actor | str) -> str:
    if isinstance(actor, Principal):
        return actor.email
    if isinstance(actor, Actor):
        return actor.name
    return actor


def add(
    session: AsyncSession,
    incident: Incident,
    kind: EventKind,
    summary: str,
    *,
    actor: Principal | Actor | str = SYSTEM,
    at: datetime | None = None,
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    """Append an event to `incident`'s timeline (flushed with the session)."""
    event = IncidentEvent(
        org_id=incident.org_id,
        incident_id=incident.id,
        kind=kind.value,
        at=at or utcnow(),
        actor=actor_name(actor),
        summary=summary,
        data=data or {},
    )
    session.add(event)
    return event


def events_query(incident: Incident) -> Select[Any]:
    return select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)


def event_out(event: IncidentEvent) -> schemas.TimelineEvent:
    return schemas.TimelineEvent(
        id=event.id,
        kind=EventKind(event.kind),
        at=event.at,
        actor=event.actor,
        summary=event.summary,
        data=event.data,
    )
