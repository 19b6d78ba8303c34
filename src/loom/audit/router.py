"""Audit endpoints: read the log with filters, and verify its hash chain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict

from loom.api.deps import CurrentPrincipal, OrgAdmin, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.audit import service
from loom.audit.models import AuditEntry

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    seq: int
    created_at: datetime
    actor_type: str
    actor_id: uuid.UUID | None
    actor_name: str
    action: str
    target_type: str
    target_id: str
    team_id: uuid.UUID | None
    correlation_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    hash: str


class ChainProblemOut(BaseModel):
    seq: int
    problem: str


class VerifyResult(BaseModel):
    ok: bool
    checked: int
    problems: list[ChainProblemOut]


@router.get("", responses={200: {"model": Page[AuditEntryOut]}})
async def list_entries(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    team_id: uuid.UUID | None = None,
    correlation_id: str | None = None,
    since: Annotated[
        AwareDatetime | None, Query(description="ISO 8601 with zone, inclusive")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="ISO 8601 with zone, exclusive")
    ] = None,
) -> dict[str, Any]:
    flt = service.AuditFilter(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        team_id=team_id,
        correlation_id=correlation_id,
        since=since,
        until=until,
    )
    async with session.begin():
        rows, cursor = await paginate(session, service.query(principal, flt), [AuditEntry.id], page)
    return page_body([AuditEntryOut.model_validate(r) for r in rows], cursor, page)


@router.get("/verify", response_model=VerifyResult)
async def verify(principal: OrgAdmin, session: SessionDep) -> VerifyResult:
    async with session.begin():
        checked, problems = await service.verify(session, principal.org_id)
    return VerifyResult(
        ok=not problems,
        checked=checked,
        problems=[ChainProblemOut(seq=p.seq, problem=p.problem) for p in problems],
    )
