"""Escalation endpoints: hand a failed request's remaining work to people as JIRA
tickets, and complete an escalated request once that work is done by hand."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep
from loom.provisioning import escalation, schemas

router = APIRouter(prefix="/requests", tags=["requests"])

_ENVELOPE: dict[str, Any] = {"description": "the error envelope"}


class CompleteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=2000, description="What was done (logged)")


@router.post(
    "/{request_id}/escalate",
    response_model=schemas.RequestDetail,
    responses={409: _ENVELOPE, 502: _ENVELOPE, 503: _ENVELOPE},
)
async def escalate(
    request_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> schemas.RequestDetail:
    """Turn the failed (or stuck) task and every task after it into chained JIRA tickets
    for people to do by hand (operators). 409 unless the request failed; 502 when JIRA
    answers an error, 503 when it cannot be reached or is not configured (nothing is
    recorded then, and escalating again finds the tickets already opened)."""
    request = await escalation.escalate(session, runtime, principal, request_id)
    return schemas.RequestDetail.of(request)


@router.post("/{request_id}/complete", response_model=schemas.RequestDetail)
async def complete(
    request_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    body: Annotated[CompleteBody | None, Body()] = None,
) -> schemas.RequestDetail:
    """An escalated request's work was done by hand: its escalated tasks and the request
    complete (operators; 409 unless it is escalated)."""
    comment = body.comment.strip() if body is not None else ""
    async with session.begin():
        request = await escalation.complete(session, principal, request_id, comment)
        return schemas.RequestDetail.of(request)
