"""Approval endpoints: approve or reject the approval a request waits for, and the
open approvals (those awaiting you, or every one you can see)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from sqlalchemy.ext.asyncio import AsyncSession

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.auth.principal import Principal
from loom.platform.runtime import Runtime
from loom.provisioning import approvals, schemas
from loom.provisioning.dispatch import enqueue_for
from loom.provisioning.models import TaskWait
from loom.provisioning.wait_schemas import ApprovalOut, DecisionBody

router = APIRouter(tags=["approvals"])
_Body = Annotated[DecisionBody | None, Body()]


async def _decide(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    request_id: uuid.UUID,
    decision: approvals.Decision,
    body: DecisionBody | None,
) -> schemas.RequestDetail:
    comment = body.comment.strip() if body is not None else ""
    async with session.begin():
        request = await approvals.decide(
            session, principal, request_id, decision, comment, enqueue_for(runtime)
        )
        return schemas.RequestDetail.of(request)


@router.post("/requests/{request_id}/approve", response_model=schemas.RequestDetail)
async def approve(
    request_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    body: _Body = None,
) -> schemas.RequestDetail:
    """Approve the approval the request waits for (its eligible approvers, never the
    requester); enough approvals let the request go on."""
    return await _decide(session, runtime, principal, request_id, "approve", body)


@router.post("/requests/{request_id}/reject", response_model=schemas.RequestDetail)
async def reject(
    request_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    body: _Body = None,
) -> schemas.RequestDetail:
    """Reject the approval the request waits for: the request fails with your comment
    (a retry asks for approval again)."""
    return await _decide(session, runtime, principal, request_id, "reject", body)


@router.get("/approvals", responses={200: {"model": Page[ApprovalOut]}})
async def list_approvals(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    mine: Annotated[
        bool, Query(description="Only those awaiting your decision (false: every one you see)")
    ] = True,
) -> dict[str, Any]:
    """Open approvals, newest first."""
    async with session.begin():
        rows, cursor = await paginate(
            session, approvals.pending_query(principal, mine), [TaskWait.created_at, TaskWait.id],
            page,
        )  # fmt: skip
        found = await approvals.summaries(session, rows)
        return page_body([ApprovalOut.of(f) for f in found], cursor, page)
