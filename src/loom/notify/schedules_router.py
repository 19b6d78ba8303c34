"""On-call schedule endpoints: CRUD, overrides, who is on call, shifts, and an
iCalendar feed."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime

from loom.api.deps import CurrentPrincipal, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.db.types import utcnow
from loom.notify import schedules_service as schedules
from loom.notify import schemas, views
from loom.notify.models import Override, Schedule

router = APIRouter(prefix="/notify", tags=["notify"])


@router.get("/schedules", responses={200: {"model": Page[schemas.Schedule]}})
async def list_schedules(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    async with session.begin():
        rows, cursor = await paginate(
            session, schedules.list_query(principal), [Schedule.name, Schedule.id], page,
            descending=False,
        )  # fmt: skip
        items = await views.schedules_out(session, rows)
    return page_body(items, cursor, page)


@router.post("/schedules", response_model=schemas.Schedule, status_code=status.HTTP_201_CREATED)
async def create_schedule(
    body: schemas.ScheduleIn, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Schedule:
    async with session.begin():
        schedule = await schedules.save_schedule(session, principal, body)
        return (await views.schedules_out(session, [schedule]))[0]


@router.get("/schedules/{ref}", response_model=schemas.Schedule)
async def get_schedule(
    ref: str, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Schedule:
    async with session.begin():
        schedule = await schedules.get_schedule(session, principal, ref)
        return (await views.schedules_out(session, [schedule]))[0]


@router.put("/schedules/{ref}", response_model=schemas.Schedule)
async def replace_schedule(
    ref: str, body: schemas.ScheduleIn, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Schedule:
    async with session.begin():
        schedule = await schedules.save_schedule(session, principal, body, ref)
        return (await views.schedules_out(session, [schedule]))[0]


@router.delete("/schedules/{ref}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(ref: str, principal: CurrentPrincipal, session: SessionDep) -> Response:
    async with session.begin():
        await schedules.delete_schedule(session, principal, ref)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/schedules/{ref}/overrides", response_model=schemas.Override,
    status_code=status.HTTP_201_CREATED,
)  # fmt: skip
async def add_override(
    ref: str, body: schemas.OverrideIn, principal: CurrentPrincipal, session: SessionDep
) -> schemas.Override:
    async with session.begin():
        made = await schedules.add_override(session, principal, ref, body)
        return (await schedules.overrides_out(session, [made]))[0]


@router.get("/schedules/{ref}/overrides", responses={200: {"model": Page[schemas.Override]}})
async def list_overrides(
    ref: str, principal: CurrentPrincipal, session: SessionDep, page: PageDep,
    include_past: Annotated[bool, Query(description="Also those that have ended")] = False,
) -> dict[str, Any]:  # fmt: skip
    """The schedule's overrides running now or ahead (`include_past`: all), by start."""
    async with session.begin():
        schedule = await schedules.get_schedule(session, principal, ref)
        stmt = schedules.overrides_query(schedule, after=None if include_past else utcnow())
        rows, cursor = await paginate(
            session, stmt, [Override.starts_at, Override.id], page, descending=False
        )
        items = await schedules.overrides_out(session, rows)
    return page_body(items, cursor, page)


@router.delete("/schedules/{ref}/overrides/{override_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_override(
    ref: str, override_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    """Remove an override (those who may add one): the layers cover its time again."""
    async with session.begin():
        await schedules.delete_override(session, principal, ref, override_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/schedules/{ref}/oncall", response_model=schemas.OnCall)
async def who_is_on_call(
    ref: str, principal: CurrentPrincipal, session: SessionDep,
    at: Annotated[AwareDatetime | None, Query(description="Default: now")] = None,
) -> schemas.OnCall:  # fmt: skip
    """Who is on call now (or at `at`), and their shift."""
    async with session.begin():
        schedule = await schedules.get_schedule(session, principal, ref)
        return await schedules.on_call(session, schedule, at or utcnow())


@router.get("/schedules/{ref}/shifts", response_model=list[schemas.Shift])
async def list_shifts(
    ref: str, principal: CurrentPrincipal, session: SessionDep,
    start: Annotated[AwareDatetime, Query()], end: Annotated[AwareDatetime, Query()],
) -> list[schemas.Shift]:  # fmt: skip
    """The on-call shifts between `start` and `end` (at most 92 days)."""
    async with session.begin():
        schedule = await schedules.get_schedule(session, principal, ref)
        return await schedules.shifts(session, schedule, start, end)


@router.get("/schedules/{ref}/calendar.ics", response_class=Response)
async def schedule_calendar(ref: str, principal: CurrentPrincipal, session: SessionDep) -> Response:
    """The next 92 days of shifts as an iCalendar document (text/calendar)."""
    async with session.begin():
        schedule = await schedules.get_schedule(session, principal, ref)
        body = await schedules.calendar(session, schedule, utcnow())
    return Response(body, media_type="text/calendar; charset=utf-8")
