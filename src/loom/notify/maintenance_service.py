"""Maintenance windows: create, list, replace, delete (managed like channels), and
snoozes (a window from now of one incident or one service, for its responders)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.errors import InvalidInput, NotFound
from loom.incidents.queries import get_incident
from loom.incidents.responders import require_responder
from loom.notify import schemas
from loom.notify.channels_service import name_free, owning_team, require_manager
from loom.notify.maintenance import cron_problem
from loom.notify.models import MaintenanceWindow
from loom.services.models import Service


def list_query(principal: Principal) -> Select[MaintenanceWindow]:
    stmt = select(MaintenanceWindow).where(MaintenanceWindow.org_id == principal.org_id)
    if principal.sees_all_teams:
        return stmt
    return stmt.where(
        or_(MaintenanceWindow.team_id.is_(None), MaintenanceWindow.team_id.in_(principal.team_ids))
    )


def _check(body: schemas.MaintenanceIn) -> None:
    once = body.starts_at is not None or body.ends_at is not None
    weekly = bool(body.weekdays) or body.start_time is not None
    one_kind = "a window is once or weekly or cron, one kind only"
    if body.cron is not None and (once or weekly):
        raise InvalidInput.on("cron", one_kind)
    if once and (weekly or body.duration_minutes):
        raise InvalidInput.on("starts_at", one_kind)
    if once:
        if body.starts_at is None or body.ends_at is None:
            raise InvalidInput.on("ends_at" if body.ends_at is None else "starts_at", "required")
        if body.ends_at <= body.starts_at:
            raise InvalidInput.on("ends_at", "must be after starts_at")
        return
    if body.cron is not None:
        if not body.duration_minutes:
            raise InvalidInput.on("duration_minutes", "required (how long each opening lasts)")
        problem = cron_problem(body.cron, utcnow())
        if problem is not None:
            raise InvalidInput.on("cron", problem)
    else:
        for field, value in (("weekdays", body.weekdays), ("start_time", body.start_time),
                             ("duration_minutes", body.duration_minutes)):  # fmt: skip
            if not value:
                raise InvalidInput.on(field, "required (or give starts_at and ends_at, or cron)")
    try:
        ZoneInfo(body.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.on("time_zone", f"unknown time zone '{body.time_zone}'") from None


def _apply(
    window: MaintenanceWindow, body: schemas.MaintenanceIn, team_id: uuid.UUID | None
) -> None:
    window.team_id, window.name, window.services = team_id, body.name, list(body.services)
    window.starts_at, window.ends_at = body.starts_at, body.ends_at
    window.weekdays, window.start_time = list(body.weekdays), body.start_time
    window.duration_minutes, window.time_zone = body.duration_minutes, body.time_zone
    # Stored as written but for spacing, so lists show "0 2 * * 6" however it was typed.
    window.cron = " ".join(body.cron.split()) if body.cron is not None else None


def _audited(window: MaintenanceWindow) -> dict[str, object]:
    return {
        "name": window.name, "services": window.services,
        "starts_at": window.starts_at.isoformat() if window.starts_at else None,
        "ends_at": window.ends_at.isoformat() if window.ends_at else None,
        "weekdays": window.weekdays, "start_time": window.start_time,
        "duration_minutes": window.duration_minutes, "cron": window.cron,
        "time_zone": window.time_zone,
    }  # fmt: skip


async def get_window(
    session: AsyncSession, principal: Principal, window_id: uuid.UUID
) -> MaintenanceWindow:
    window = await session.scalar(list_query(principal).where(MaintenanceWindow.id == window_id))
    if window is None:
        raise NotFound(f"maintenance window '{window_id}' not found")
    return window


async def create_window(
    session: AsyncSession, principal: Principal, body: schemas.MaintenanceIn
) -> MaintenanceWindow:
    team_id = await owning_team(session, principal, body.team)
    await require_manager(session, principal, team_id)
    _check(body)
    await name_free(session, MaintenanceWindow, principal.org_id, body.name)
    window = MaintenanceWindow(org_id=principal.org_id, created_by=principal.email)
    _apply(window, body, team_id)
    session.add(window)
    await session.flush()
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_maintenance.create",
        target_type="notify_maintenance", target_id=window.id, team_id=team_id,
        after=_audited(window),
    )  # fmt: skip
    return window


async def update_window(
    session: AsyncSession,
    principal: Principal,
    window_id: uuid.UUID,
    body: schemas.MaintenanceIn,
) -> MaintenanceWindow:
    """Replace window `window_id` with `body` (a snooze stays a snooze of its incident);
    who manages its team, and the one it moves to, may."""
    window = await get_window(session, principal, window_id)
    await require_manager(session, principal, window.team_id)
    team_id = await owning_team(session, principal, body.team)
    await require_manager(session, principal, team_id)
    _check(body)
    if body.name != window.name:
        await name_free(session, MaintenanceWindow, principal.org_id, body.name)
    before = _audited(window)
    _apply(window, body, team_id)
    await session.flush()
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_maintenance.update",
        target_type="notify_maintenance", target_id=window.id, team_id=team_id,
        before=before, after=_audited(window),
    )  # fmt: skip
    return window


async def delete_window(session: AsyncSession, principal: Principal, window_id: uuid.UUID) -> None:
    window = await get_window(session, principal, window_id)
    await require_manager(session, principal, window.team_id)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_maintenance.delete",
        target_type="notify_maintenance", target_id=window.id, team_id=window.team_id,
        before={"name": window.name},
    )  # fmt: skip
    await session.delete(window)


async def snooze(
    session: AsyncSession,
    principal: Principal,
    *,
    incident: str | None,
    service: str | None,
    minutes: int,
) -> MaintenanceWindow:
    """Mute one incident, or one service, from now for `minutes` (the incident's or the
    service's responders: operators and up)."""
    if (incident is None) == (service is None):
        raise InvalidInput.on("incident", "name an incident or a service (not both)")
    principal.require_scope("write")
    now = utcnow()
    incident_id, services, what = None, [], service or ""
    if incident is not None:
        found = await get_incident(session, principal, incident)
        require_responder(principal)
        incident_id, what = found.id, f"INC-{found.number}"
    else:
        exists = await session.scalar(
            select(Service.id).where(Service.org_id == principal.org_id, Service.slug == service)
        )
        if exists is None:
            raise InvalidInput.on("service", f"no service '{service}'")
        require_responder(principal)
        services = [str(service)]
    window = MaintenanceWindow(
        org_id=principal.org_id, name=f"snooze-{what.lower()}-{uuid.uuid4().hex[:6]}",
        services=services, incident_id=incident_id, starts_at=now,
        ends_at=now + timedelta(minutes=minutes), created_by=principal.email,
    )  # fmt: skip
    session.add(window)
    await session.flush()
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify.snooze",
        target_type="notify_maintenance", target_id=window.id,
        after={"incident": incident, "service": service, "minutes": minutes},
    )  # fmt: skip
    return window
