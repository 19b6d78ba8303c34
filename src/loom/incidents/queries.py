"""Reading incidents, alerts and changes, scoped to the caller's organisation (everyone in
it reads operations data). Lists return statements for `loom.api.pagination.paginate`."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.principal import Principal
from loom.errors import NotFound, RejectedInput
from loom.incidents.kinds import OPEN
from loom.incidents.models import Alert, Change, Incident
from loom.services.models import Service

_NUMBER = re.compile(r"^(?:INC-)?(\d{1,9})$", re.IGNORECASE)


def incident_ref(ref: str) -> uuid.UUID | int:
    """An incident is named by its id or its number ("42" or "INC-42")."""
    found = _NUMBER.match(ref.strip())
    if found:
        return int(found.group(1))
    try:
        return uuid.UUID(ref)
    except ValueError:
        raise RejectedInput.on("incident", "an incident id or number (INC-42)") from None


async def get_incident(
    session: AsyncSession, principal: Principal | uuid.UUID, ref: str | uuid.UUID | int,
    *, for_update: bool = False,
) -> Incident:  # fmt: skip
    """The incident `ref` of the caller's organisation (404 otherwise)."""
    org_id = principal.org_id if isinstance(principal, Principal) else principal
    key = incident_ref(ref) if isinstance(ref, str) else ref
    stmt = select(Incident).where(Incident.org_id == org_id)
    stmt = stmt.where(Incident.number == key if isinstance(key, int) else Incident.id == key)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    found = await session.scalar(stmt)
    if found is None:
        raise NotFound(f"incident '{ref}' not found")
    return found


async def _service_id(session: AsyncSession, org_id: uuid.UUID, slug: str) -> uuid.UUID:
    found = await session.scalar(
        select(Service.id).where(Service.org_id == org_id, Service.slug == slug)
    )
    if found is None:
        raise RejectedInput.on("service", f"no service '{slug}'")
    return found


@dataclass
class IncidentFilter:
    status: list[str] | None = None
    open: bool | None = None
    severity: str | None = None
    service: str | None = None
    since: datetime | None = None


async def incidents_query(
    session: AsyncSession, principal: Principal, flt: IncidentFilter
) -> Select[Any]:
    stmt = select(Incident).where(Incident.org_id == principal.org_id)
    if flt.open is not None:
        wanted = [s.value for s in OPEN]
        stmt = stmt.where(
            Incident.status.in_(wanted) if flt.open else Incident.status.not_in(wanted)
        )
    if flt.status:
        stmt = stmt.where(Incident.status.in_(flt.status))
    if flt.severity:
        stmt = stmt.where(Incident.severity == flt.severity)
    if flt.service:
        sid = await _service_id(session, principal.org_id, flt.service)
        stmt = stmt.where(Incident.id.in_(select(Alert.incident_id).where(Alert.service_id == sid)))
    if flt.since:
        stmt = stmt.where(Incident.opened_at >= flt.since)
    return stmt


@dataclass
class AlertFilter:
    status: str | None = None
    severity: str | None = None
    service: str | None = None
    incident: str | None = None
    silenced: bool | None = None


async def alerts_query(
    session: AsyncSession, principal: Principal, flt: AlertFilter
) -> Select[Any]:
    stmt = select(Alert).where(Alert.org_id == principal.org_id)
    if flt.status:
        stmt = stmt.where(Alert.status == flt.status)
    if flt.severity:
        stmt = stmt.where(Alert.severity == flt.severity)
    if flt.service:
        stmt = stmt.where(
            Alert.service_id == await _service_id(session, principal.org_id, flt.service)
        )
    if flt.incident:
        incident = await get_incident(session, principal, flt.incident)
        stmt = stmt.where(Alert.incident_id == incident.id)
    if flt.silenced is not None:
        stmt = stmt.where(
            Alert.silence_id.is_not(None) if flt.silenced else Alert.silence_id.is_(None)
        )
    return stmt


@dataclass
class ChangeFilter:
    service: str | None = None
    type: str | None = None
    environment: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def changes_query(
    session: AsyncSession, principal: Principal, flt: ChangeFilter
) -> Select[Any]:
    stmt = select(Change).where(Change.org_id == principal.org_id)
    if flt.service:
        stmt = stmt.where(
            Change.service_id == await _service_id(session, principal.org_id, flt.service)
        )
    if flt.type:
        stmt = stmt.where(Change.type == flt.type)
    if flt.environment:
        stmt = stmt.where(Change.environment == flt.environment)
    if flt.since:
        stmt = stmt.where(Change.happened_at >= flt.since)
    if flt.until:
        stmt = stmt.where(Change.happened_at <= flt.until)
    return stmt
