"""The on-call page: who is on call now for each schedule (until when, and who is next),
each schedule's shifts over the next days, and the escalation policies with their levels.
Everything comes from the notify services the API uses (`schedules_service`,
`policies_service`, `views`), scoped the same way: the organisation's and the caller's
teams'."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from loom.api.deps import SessionDep
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.notify import policies_service, schedules_service, schemas, views
from loom.notify.models import Policy, Schedule
from loom.web.deps import PagePrincipal
from loom.web.oncall_rows import ONCALL, VIEWS
from loom.web.routing import page_router
from loom.web.templating import render
from loom.web.timefmt import moment

router = page_router()

#: How far ahead each schedule's shifts are listed.
AHEAD = timedelta(days=7)
#: Schedules and policies shown (an organisation with more pages through the API).
LIMIT = 100


def _shift(shift: schemas.Shift | None) -> dict[str, Any] | None:
    if shift is None:
        return None
    return {"user": shift.user, "source": shift.source, "starts": moment(shift.starts_at),
            "ends": moment(shift.ends_at)}  # fmt: skip


async def _schedule(
    session: AsyncSession, row: Schedule, shown: schemas.Schedule, now: datetime
) -> dict[str, Any]:
    current = (await schedules_service.on_call(session, row, now)).shift
    shifts = await schedules_service.shifts(session, row, now, now + AHEAD)
    upcoming = [s for s in shifts if s.starts_at > now]
    return {
        "id": str(row.id), "name": row.name, "team": shown.team, "time_zone": row.time_zone,
        "layers": [layer.model_dump() for layer in shown.layers],
        "now": _shift(current), "next": _shift(upcoming[0] if upcoming else None),
        "shifts": [_shift(s) for s in shifts],
    }  # fmt: skip


def _level(level: schemas.PolicyLevel) -> dict[str, Any]:
    """A level's delay and its targets by kind (channels, and whatever else a level may
    name), so the page shows every target the API does."""
    targets = {key: value for key, value in level.model_dump().items()
               if key != "delay_minutes" and value}  # fmt: skip
    return {"delay": f"{level.delay_minutes:g}", "targets": targets}


async def page_context(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    now = utcnow()
    schedules = list(await session.scalars(
        schedules_service.list_query(principal).order_by(Schedule.name).limit(LIMIT)
    ))  # fmt: skip
    rows = list(await session.scalars(
        policies_service.list_query(principal).order_by(Policy.name).limit(LIMIT)
    ))  # fmt: skip
    policies = [
        {"name": p.name, "team": p.team, "repeat": p.repeat,
         "levels": [_level(level) for level in p.levels]}
        for p in await views.policies_out(session, rows)
    ]  # fmt: skip
    return {
        "views": VIEWS, "current_view": "oncall", "now": moment(now), "days": AHEAD.days,
        "schedules": [await _schedule(session, row, shown, now) for row, shown
                      in zip(schedules, await views.schedules_out(session, schedules),
                             strict=True)],
        "policies": policies,
    }  # fmt: skip


@router.get(ONCALL)
async def oncall_page(request: Request, principal: PagePrincipal, session: SessionDep) -> Response:
    async with session.begin():
        context = await page_context(session, principal)
    return render(request, "oncall/index.html", context)
