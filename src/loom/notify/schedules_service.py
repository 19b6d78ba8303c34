"""On-call schedules: create, read, replace, delete (managed like channels), overrides,
who is on call at a time, the shifts of a period, and the same as an iCalendar feed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.models import User
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.db.filters import names_by_id
from loom.errors import FieldIssue, InvalidInput, NotFound
from loom.notify import oncall, schemas
from loom.notify.channels_service import name_free, owning_team, require_manager
from loom.notify.models import Override, Schedule

#: The longest period `shifts` and the calendar cover at once.
MAX_PERIOD = timedelta(days=92)


def list_query(principal: Principal) -> Select[Schedule]:
    stmt = select(Schedule).where(Schedule.org_id == principal.org_id)
    if principal.sees_all_teams:
        return stmt
    return stmt.where(or_(Schedule.team_id.is_(None), Schedule.team_id.in_(principal.team_ids)))


async def get_schedule(session: AsyncSession, principal: Principal, ref: str) -> Schedule:
    """A schedule by id or name."""
    stmt = list_query(principal)
    try:
        found = await session.scalar(stmt.where(Schedule.id == uuid.UUID(ref)))
    except ValueError:
        found = await session.scalar(stmt.where(Schedule.name == ref))
    if found is None:
        raise NotFound(f"schedule '{ref}' not found")
    return found


async def _user_ids(
    session: AsyncSession, principal: Principal, emails: list[str], field: str
) -> list[str]:
    found = dict((await session.execute(
        select(User.email, User.id).where(User.org_id == principal.org_id,
                                          User.email.in_(emails), User.is_active.is_(True))
    )).all())  # fmt: skip
    missing = [
        FieldIssue(f"{field}[{n}]", f"no user '{email}' in this organisation")
        for n, email in enumerate(emails) if email not in found
    ]  # fmt: skip
    if missing:
        raise InvalidInput("unknown users", missing)
    return [str(found[e]) for e in emails]


async def save_schedule(
    session: AsyncSession,
    principal: Principal,
    body: schemas.ScheduleIn,
    schedule_id: str | None = None,
) -> Schedule:
    team_id = await owning_team(session, principal, body.team)
    await require_manager(session, principal, team_id)
    try:
        ZoneInfo(body.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.on("time_zone", f"unknown time zone '{body.time_zone}'") from None
    layers = [
        {"name": layer.name, "rotation": layer.rotation, "handoff": layer.handoff,
         "start": layer.start.isoformat(),
         "user_ids": await _user_ids(session, principal, layer.users, f"layers[{n}].users")}
        for n, layer in enumerate(body.layers)
    ]  # fmt: skip
    if schedule_id is None:
        await name_free(session, Schedule, principal.org_id, body.name)
        schedule = Schedule(org_id=principal.org_id, name=body.name, created_by=principal.email)
        session.add(schedule)
        before = None
    else:
        schedule = await get_schedule(session, principal, schedule_id)
        await require_manager(session, principal, schedule.team_id)
        before = _audited(schedule)
        if body.name != schedule.name:
            await name_free(session, Schedule, principal.org_id, body.name)
    schedule.name, schedule.team_id = body.name, team_id
    schedule.time_zone, schedule.layers = body.time_zone, layers
    await session.flush()
    await audit.record(
        session, org_id=principal.org_id, actor=principal,
        action="notify_schedule.create" if before is None else "notify_schedule.update",
        target_type="notify_schedule", target_id=schedule.id, team_id=team_id, before=before,
        after=_audited(schedule),
    )  # fmt: skip
    return schedule


async def delete_schedule(session: AsyncSession, principal: Principal, ref: str) -> None:
    schedule = await get_schedule(session, principal, ref)
    await require_manager(session, principal, schedule.team_id)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_schedule.delete",
        target_type="notify_schedule", target_id=schedule.id, team_id=schedule.team_id,
        before=_audited(schedule),
    )  # fmt: skip
    await session.delete(schedule)


async def add_override(
    session: AsyncSession, principal: Principal, ref: str, body: schemas.OverrideIn
) -> Override:
    """Someone on call instead for a while (the schedule's operators and up)."""
    schedule = await _schedule_to_cover(session, principal, ref)
    if body.ends_at <= body.starts_at:
        raise InvalidInput.on("ends_at", "must be after starts_at")
    (user_id,) = await _user_ids(session, principal, [body.user], "user")
    override = Override(
        org_id=principal.org_id, schedule_id=schedule.id, user_id=uuid.UUID(user_id),
        starts_at=body.starts_at, ends_at=body.ends_at, created_by=principal.email,
    )  # fmt: skip
    session.add(override)
    await session.flush()
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_schedule.override",
        target_type="notify_schedule", target_id=schedule.id, team_id=schedule.team_id,
        after={"user": body.user, "starts_at": body.starts_at.isoformat(),
               "ends_at": body.ends_at.isoformat()},
    )  # fmt: skip
    return override


def overrides_query(schedule: Schedule, *, after: datetime | None) -> Select[Override]:
    """The schedule's overrides; with `after`, only those still running or ahead then."""
    stmt = select(Override).where(Override.schedule_id == schedule.id)
    return stmt if after is None else stmt.where(Override.ends_at > after)


async def delete_override(
    session: AsyncSession, principal: Principal, ref: str, override_id: uuid.UUID
) -> None:
    """Remove an override (those who may add one): the rotation covers its time again."""
    schedule = await _schedule_to_cover(session, principal, ref)
    override = await session.scalar(
        overrides_query(schedule, after=None).where(Override.id == override_id)
    )
    if override is None:
        raise NotFound(f"override '{override_id}' not found on schedule '{ref}'")
    (shown,) = await overrides_out(session, [override])
    await audit.record(
        session, org_id=principal.org_id, actor=principal,
        action="notify_schedule.override_delete", target_type="notify_schedule",
        target_id=schedule.id, team_id=schedule.team_id,
        before={"id": str(override.id), "user": shown.user,
                "starts_at": override.starts_at.isoformat(),
                "ends_at": override.ends_at.isoformat()},
    )  # fmt: skip
    await session.delete(override)
    await session.flush()


async def overrides_out(session: AsyncSession, found: Sequence[Override]) -> list[schemas.Override]:
    emails = await names_by_id(session, User.email, User.id, (o.user_id for o in found))
    return [
        schemas.Override(id=o.id, user=emails.get(o.user_id, str(o.user_id)),
                         starts_at=o.starts_at, ends_at=o.ends_at, created_by=o.created_by)
        for o in found
    ]  # fmt: skip


async def _schedule_to_cover(session: AsyncSession, principal: Principal, ref: str) -> Schedule:
    """The schedule, if the caller may change its overrides: an organisation schedule's
    operators are the organisation's, a team schedule's the team's (and up), with a
    token that may write."""
    schedule = await get_schedule(session, principal, ref)
    if schedule.team_id is None:
        principal.require_org_role(Role.OPERATOR)
        # require_org_role checks the write scope for admins only.
        principal.require_scope("write")
    else:
        principal.require_team_role(schedule.team_id, Role.OPERATOR, "team")
    return schedule


async def shifts(
    session: AsyncSession, schedule: Schedule, start: datetime, end: datetime
) -> list[schemas.Shift]:
    """The shifts between `start` and `end` (at most `MAX_PERIOD`), with e-mails."""
    if end <= start:
        raise InvalidInput.on("end", "must be after start")
    if end - start > MAX_PERIOD:
        raise InvalidInput.on("end", f"at most {MAX_PERIOD.days} days after start")
    layers, spans = await _parts(session, schedule, start, end)
    found = oncall.shifts(layers, spans, ZoneInfo(schedule.time_zone), start, end)
    return await _with_emails(session, found)


async def shift_at(session: AsyncSession, schedule: Schedule, at: datetime) -> oncall.Shift | None:
    """The shift covering `at` in `schedule` (None: nobody is on call)."""
    layers, spans = await _parts(session, schedule, at, at + timedelta(seconds=1))
    return oncall.who(layers, spans, ZoneInfo(schedule.time_zone), at)


async def on_call(session: AsyncSession, schedule: Schedule, at: datetime) -> schemas.OnCall:
    found = await shift_at(session, schedule, at)
    shift = (await _with_emails(session, [found]))[0] if found else None
    return schemas.OnCall(schedule=schedule.name, at=at, shift=shift)


async def calendar(session: AsyncSession, schedule: Schedule, start: datetime) -> bytes:
    """The shifts of the next `MAX_PERIOD` from `start`, as an iCalendar document."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Loom//on-call//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"On call: {schedule.name}")
    for shift in await shifts(session, schedule, start, start + MAX_PERIOD):
        event = icalendar.Event()
        event.add("uid", f"{schedule.id}-{int(shift.starts_at.timestamp())}@loom")
        event.add("summary", f"On call ({schedule.name}): {shift.user}")
        event.add("dtstart", shift.starts_at)
        event.add("dtend", shift.ends_at)
        event.add("dtstamp", start)
        event.add("description", f"Source: {shift.source}")
        cal.add_component(event)
    return bytes(cal.to_ical())


async def _parts(
    session: AsyncSession, schedule: Schedule, start: datetime, end: datetime
) -> tuple[list[oncall.Layer], list[oncall.OverrideSpan]]:
    overrides = await session.scalars(
        select(Override)
        .where(Override.schedule_id == schedule.id, Override.ends_at > start,
               Override.starts_at < end)
        .order_by(Override.created_at)
    )  # fmt: skip
    spans = [oncall.OverrideSpan(o.user_id, o.starts_at, o.ends_at) for o in overrides]
    return [oncall.Layer.of(layer) for layer in schedule.layers], spans


async def _with_emails(session: AsyncSession, found: list[oncall.Shift]) -> list[schemas.Shift]:
    emails = await names_by_id(session, User.email, User.id, (s.user_id for s in found))
    return [
        schemas.Shift(user=emails.get(s.user_id, str(s.user_id)), starts_at=s.starts_at,
                      ends_at=s.ends_at, source=s.source)
        for s in found
    ]  # fmt: skip


def _audited(schedule: Schedule) -> dict[str, object]:
    return {"name": schedule.name, "time_zone": schedule.time_zone, "layers": schedule.layers}
