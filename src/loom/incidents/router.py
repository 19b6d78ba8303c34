"""Incident endpoints: list, read and change incidents, their alerts, status actions,
merge / split / move, comments and the timeline. An incident is named by its id, its
number or "INC-n". Everyone in the organisation reads; operators act (see lifecycle)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import select

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.incidents import incident_schemas as inputs
from loom.incidents import lifecycle, manual, queries, schemas, timeline, views
from loom.incidents.kinds import EventKind, IncidentStatus, Severity
from loom.incidents.models import Alert, Incident, IncidentEvent

router = APIRouter(prefix="/incidents", tags=["incidents"])

Ref = Annotated[str, Path(description="The incident's id, number or INC-n")]


@router.get("", responses={200: {"model": Page[schemas.IncidentSummary]}})
async def list_incidents(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    status_: Annotated[
        list[IncidentStatus] | None, Query(alias="status", description="Repeatable")
    ] = None,
    open_: Annotated[bool | None, Query(alias="open", description="Open (or closed) only")] = None,
    severity: Severity | None = None,
    service: Annotated[str | None, Query(description="Has alerts of this service (slug)")] = None,
    since: Annotated[datetime | None, Query(description="Opened at or after")] = None,
) -> dict[str, Any]:
    """The organisation's incidents, latest alert first (`open=true` for the open ones)."""
    flt = queries.IncidentFilter(
        status=[s.value for s in status_] if status_ else None, open=open_,
        severity=severity.value if severity else None, service=service, since=since,
    )  # fmt: skip
    async with session.begin():
        stmt = await queries.incidents_query(session, principal, flt)
        rows, cursor = await paginate(session, stmt, [Incident.last_alert_at, Incident.id], page)
        items = await views.incidents_out(session, rows)
    return page_body(items, cursor, page)


@router.get("/{ref}", response_model=schemas.Incident)
async def get_incident(ref: Ref, principal: CurrentPrincipal, session: SessionDep) -> Any:
    async with session.begin():
        incident = await queries.get_incident(session, principal, ref)
        return await views.incident_out(session, incident)


@router.patch("/{ref}", response_model=schemas.Incident)
async def update_incident(
    ref: Ref, body: inputs.IncidentUpdate, principal: CurrentPrincipal, session: SessionDep
) -> Any:
    """Change the fields sent: title, severity (null clears the override), assignee
    (email; null unassigns), hold_open, status (with an optional note)."""
    async with session.begin():
        incident = await lifecycle.update(session, principal, ref, body)
        await session.flush()
        return await views.incident_out(session, incident)


async def _status(
    session: SessionDep,
    principal: CurrentPrincipal,
    ref: str,
    new: IncidentStatus,
    body: inputs.StatusChange | None,
) -> schemas.Incident:
    async with session.begin():
        incident = await lifecycle.change_status(
            session, principal, ref, new, note=body.note if body else None
        )
        await session.flush()
        return await views.incident_out(session, incident)


@router.post("/{ref}/ack", response_model=schemas.Incident)
async def acknowledge(
    ref: Ref, principal: CurrentPrincipal, session: SessionDep,
    body: inputs.StatusChange | None = None,
) -> Any:  # fmt: skip
    return await _status(session, principal, ref, IncidentStatus.ACKNOWLEDGED, body)


@router.post("/{ref}/investigate", response_model=schemas.Incident)
async def investigate(
    ref: Ref, principal: CurrentPrincipal, session: SessionDep,
    body: inputs.StatusChange | None = None,
) -> Any:  # fmt: skip
    return await _status(session, principal, ref, IncidentStatus.INVESTIGATING, body)


@router.post("/{ref}/mitigate", response_model=schemas.Incident)
async def mitigate(
    ref: Ref, principal: CurrentPrincipal, session: SessionDep,
    body: inputs.StatusChange | None = None,
) -> Any:  # fmt: skip
    return await _status(session, principal, ref, IncidentStatus.MITIGATED, body)


@router.post("/{ref}/resolve", response_model=schemas.Incident)
async def resolve(
    ref: Ref, principal: CurrentPrincipal, session: SessionDep,
    body: inputs.StatusChange | None = None,
) -> Any:  # fmt: skip
    """Resolve (alerts may still fire: a person decides)."""
    return await _status(session, principal, ref, IncidentStatus.RESOLVED, body)


@router.post("/{ref}/reopen", response_model=schemas.Incident)
async def reopen(
    ref: Ref, principal: CurrentPrincipal, session: SessionDep,
    body: inputs.StatusChange | None = None,
) -> Any:  # fmt: skip
    return await _status(session, principal, ref, IncidentStatus.TRIGGERED, body)


@router.post("/{ref}/merge", response_model=schemas.Incident)
async def merge(
    ref: Ref, body: inputs.MergeBody, principal: CurrentPrincipal, session: SessionDep,
    runtime: RuntimeDep,
) -> Any:  # fmt: skip
    """Merge this incident into `into`; answers the incident merged into."""
    async with session.begin():
        target = await manual.merge(
            session, principal, ref, body.into, settings=runtime.settings.incidents,
            note=body.note,
        )  # fmt: skip
        await session.flush()
        return await views.incident_out(session, target)


@router.post("/{ref}/split", response_model=schemas.Incident, status_code=status.HTTP_201_CREATED)
async def split(
    ref: Ref, body: inputs.SplitBody, principal: CurrentPrincipal, session: SessionDep,
    runtime: RuntimeDep,
) -> Any:  # fmt: skip
    """Move `alerts` of this incident into a new incident; answers the new one."""
    async with session.begin():
        created = await manual.split(
            session, principal, ref, body.alerts, settings=runtime.settings.incidents,
            note=body.note,
        )  # fmt: skip
        await session.flush()
        return await views.incident_out(session, created)


@router.get("/{ref}/alerts", responses={200: {"model": Page[schemas.Alert]}})
async def list_alerts(
    ref: Ref, principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    """The incident's alerts, newest first."""
    async with session.begin():
        incident = await queries.get_incident(session, principal, ref)
        stmt = select(Alert).where(Alert.incident_id == incident.id)
        rows, cursor = await paginate(session, stmt, [Alert.first_seen, Alert.id], page)
        items = await views.alerts_out(session, rows)
    return page_body(items, cursor, page)


@router.post("/{ref}/alerts/move", response_model=schemas.Incident)
async def move_alert(
    ref: Ref, body: inputs.MoveAlertBody, principal: CurrentPrincipal, session: SessionDep,
    runtime: RuntimeDep,
) -> Any:  # fmt: skip
    """Move one alert of this incident to the incident `to`; answers that incident."""
    async with session.begin():
        target = await manual.move_alert(
            session, principal, ref, body.alert, body.to, settings=runtime.settings.incidents
        )
        await session.flush()
        return await views.incident_out(session, target)


async def _events(
    session: SessionDep,
    principal: CurrentPrincipal,
    ref: str,
    page: PageDep,
    kind: EventKind | None,
) -> dict[str, Any]:
    async with session.begin():
        incident = await queries.get_incident(session, principal, ref)
        stmt = timeline.events_query(incident)
        if kind is not None:
            stmt = stmt.where(IncidentEvent.kind == kind.value)
        key = [IncidentEvent.at, IncidentEvent.id]
        rows, cursor = await paginate(session, stmt, key, page, descending=False)
    return page_body([timeline.event_out(e) for e in rows], cursor, page)


@router.get("/{ref}/timeline", responses={200: {"model": Page[schemas.TimelineEvent]}})
async def get_timeline(
    ref: Ref,
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    kind: Annotated[EventKind | None, Query(description="Only events of this kind")] = None,
) -> dict[str, Any]:
    """The incident's timeline, oldest first."""
    return await _events(session, principal, ref, page, kind)


@router.get("/{ref}/comments", responses={200: {"model": Page[schemas.TimelineEvent]}})
async def list_comments(
    ref: Ref, principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    """The incident's comments (timeline events of kind comment), oldest first."""
    return await _events(session, principal, ref, page, EventKind.COMMENT)


@router.post(
    "/{ref}/comments", response_model=schemas.TimelineEvent, status_code=status.HTTP_201_CREATED
)
async def add_comment(
    ref: Ref, body: inputs.CommentBody, principal: CurrentPrincipal, session: SessionDep
) -> Any:
    async with session.begin():
        event = await lifecycle.comment(session, principal, ref, body.body)
        return timeline.event_out(event)
