"""Request endpoints: plan, submit, list, read, status, logs, retry, abort."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, status
from pydantic import AwareDatetime

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.catalog import service as catalog
from loom.platform.http import http_clients
from loom.provisioning import schemas, service
from loom.provisioning.dispatch import enqueue_for
from loom.provisioning.external_status import external_statuses
from loom.provisioning.models import Request
from loom.provisioning.states import RequestState
from loom.secrets.crypto import derive_key

router = APIRouter(prefix="/requests", tags=["requests"])


@router.post("/plan", response_model=schemas.Plan)
async def plan(
    body: schemas.RequestCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> schemas.Plan:
    """Validate input and show every task that would run; nothing is stored."""
    async with session.begin():
        served = await catalog.entries(session, runtime, principal)
        prepared = await service.prepare(
            session, principal, served, body.item, body.team, body.inputs
        )
    settings = runtime.settings
    configs = service.preview_configs(prepared, principal, settings.region, settings.environment)
    return schemas.Plan(
        item=body.item,
        version=prepared.entry.document.metadata.version,
        team_id=prepared.team_id,
        tasks=[schemas.PlannedTask.of(t, c) for t, c in zip(prepared.tasks, configs, strict=True)],
    )


@router.post("", response_model=schemas.RequestDetail, status_code=status.HTTP_201_CREATED)
async def submit(
    body: schemas.RequestCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> schemas.RequestDetail:
    """Request a catalog item or bundle. Accepts an Idempotency-Key."""
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    async with session.begin():
        served = await catalog.entries(session, runtime, principal)
        prepared = await service.prepare(
            session, principal, served, body.item, body.team, body.inputs
        )
        request = await service.submit(session, principal, prepared, key, enqueue_for(runtime))
    return schemas.RequestDetail.of(request)


@router.get("", responses={200: {"model": Page[schemas.RequestSummary]}})
async def list_requests(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    mine: Annotated[bool, Query(description="Only yours (false: your teams')")] = True,
    state: RequestState | None = None,
    item: str | None = None,
    team_id: uuid.UUID | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> dict[str, Any]:
    flt = service.RequestFilter(
        mine=mine, state=state, entry_id=item, team_id=team_id, since=since, until=until
    )
    async with session.begin():
        rows, cursor = await paginate(
            session, service.requests_query(principal, flt), [Request.created_at, Request.id], page
        )
    return page_body([schemas.RequestSummary.of(r) for r in rows], cursor, page)


@router.get("/{request_id}", response_model=schemas.RequestDetail)
async def get_request(
    request_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    include: Annotated[
        list[Literal["external_status"]],
        Query(description="external_status: each task's ticket status, read now from JIRA"),
    ] = [],  # noqa: B006 - FastAPI copies defaults
) -> schemas.RequestDetail:
    async with session.begin():
        request = await service.get_request(session, principal, request_id)
        detail = schemas.RequestDetail.of(request)
    if "external_status" in include:  # outside the transaction: JIRA may be slow
        refs = {task.id: task.external_refs for task in detail.tasks}
        found = await external_statuses(request_id, refs, http_clients(runtime), runtime.settings)
        for task in detail.tasks:
            if task.id in found:
                task.external_status = schemas.ExternalStatus(**asdict(found[task.id]))
    return detail


@router.get("/{request_id}/status")
async def request_status(
    request_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> dict[str, Any]:
    """State and progress only (cheap to poll)."""
    async with session.begin():
        request = await service.get_request(session, principal, request_id)
        summary = schemas.RequestSummary.of(request)
        tasks = [{"position": t.position, "action_id": t.action_id, "state": t.state}
                 for t in request.tasks]  # fmt: skip
    return {
        "id": str(request_id),
        "state": summary.state,
        "progress": summary.progress,
        "tasks": tasks,
    }


@router.get("/{request_id}/logs", response_model=list[schemas.LogLine])
async def request_logs(
    request_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> list[schemas.LogLine]:
    async with session.begin():
        rows = await service.logs(session, principal, request_id)
    return [schemas.LogLine.model_validate(r) for r in rows]


@router.post("/{request_id}/retry", response_model=schemas.RequestDetail)
async def retry(
    request_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    body: Annotated[schemas.RetryBody | None, Body()] = None,
) -> schemas.RequestDetail:
    """Re-queue the failed task and those after it (operators; input may be corrected)."""
    corrected = body.inputs if body is not None else None
    async with session.begin():
        request = await service.retry(
            session, principal, request_id, enqueue_for(runtime), corrected
        )
        return schemas.RequestDetail.of(request)


@router.post("/{request_id}/abort", response_model=schemas.RequestDetail)
async def abort(
    request_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> schemas.RequestDetail:
    """Skip every task not done yet and end the request (operators)."""
    async with session.begin():
        request = await service.abort(session, principal, request_id)
        return schemas.RequestDetail.of(request)
