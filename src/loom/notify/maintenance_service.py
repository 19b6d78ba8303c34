"""Maintenance windows: create, list, delete (managed like channels)."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.errors import InvalidInput, NotFound
from loom.notify import schemas
from loom.notify.channels_service import name_free, owning_team, require_manager
from loom.notify.models import MaintenanceWindow


def list_query(principal: Principal) -> Select[MaintenanceWindow]:
    stmt = select(MaintenanceWindow).where(MaintenanceWindow.org_id == principal.org_id)
    if principal.sees_all_teams:
        return stmt
    return stmt.where(
        or_(MaintenanceWindow.team_id.is_(None), MaintenanceWindow.team_id.in_(principal.team_ids))
    )


def _check(body: schemas.MaintenanceIn) -> None:
    once = body.starts_at is not None or body.ends_at is not None
    weekly = bool(body.weekdays) or body.start_time is not None or body.duration_minutes
    if once and weekly:
        raise InvalidInput.on("starts_at", "a window is either once or weekly, not both")
    if once:
        if body.starts_at is None or body.ends_at is None:
            raise InvalidInput.on("ends_at" if body.ends_at is None else "starts_at", "required")
        if body.ends_at <= body.starts_at:
            raise InvalidInput.on("ends_at", "must be after starts_at")
        return
    for field, value in (("weekdays", body.weekdays), ("start_time", body.start_time),
                         ("duration_minutes", body.duration_minutes)):  # fmt: skip
        if not value:
            raise InvalidInput.on(field, "required (or give starts_at and ends_at)")
    try:
        ZoneInfo(body.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.on("time_zone", f"unknown time zone '{body.time_zone}'") from None


async def create_window(
    session: AsyncSession, principal: Principal, body: schemas.MaintenanceIn
) -> MaintenanceWindow:
    team_id = await owning_team(session, principal, body.team)
    await require_manager(session, principal, team_id)
    _check(body)
    await name_free(session, MaintenanceWindow, principal.org_id, body.name)
    window = MaintenanceWindow(
        org_id=principal.org_id, team_id=team_id, name=body.name, services=body.services,
        starts_at=body.starts_at, ends_at=body.ends_at, weekdays=list(body.weekdays),
        start_time=body.start_time, duration_minutes=body.duration_minutes,
        time_zone=body.time_zone, created_by=principal.email,
    )  # fmt: skip
    session.add(window)
    await session.flush()
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_maintenance.create",
        target_type="notify_maintenance", target_id=window.id, team_id=team_id,
        after=body.model_dump(mode="json"),
    )  # fmt: skip
    return window


async def delete_window(session: AsyncSession, principal: Principal, window_id: uuid.UUID) -> None:
    window = await session.scalar(list_query(principal).where(MaintenanceWindow.id == window_id))
    if window is None:
        raise NotFound(f"maintenance window '{window_id}' not found")
    await require_manager(session, principal, window.team_id)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_maintenance.delete",
        target_type="notify_maintenance", target_id=window.id, team_id=window.team_id,
        before={"name": window.name},
    )  # fmt: skip
    await session.delete(window)
