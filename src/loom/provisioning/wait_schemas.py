"""API shapes of waiting tasks: approvals (decisions, the list of open approvals) and
what an outside system reports to a callback URL."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loom.provisioning.approvals import Summary
from loom.provisioning.schemas import masked_inputs


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=2000, description="Why (shown in the log)")


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    email: str
    decision: str
    comment: str
    at: datetime


class ApprovalOut(BaseModel):
    """An open approval: the request it holds, who may decide, the decisions so far."""

    request_id: uuid.UUID
    task_id: uuid.UUID
    item: str
    item_name: str
    team_id: uuid.UUID
    requester: str = Field(description="The requester's email")
    inputs: dict[str, Any] = Field(description="Form values; secret fields shown as ••••")
    waiting_for: str
    approvers: dict[str, Any] = Field(description='{"teams": [{team, minRole}], "users": [...]}')
    required: int
    approvals: int
    decisions: list[DecisionOut]
    created_at: datetime
    deadline_at: datetime | None
    url: str

    @classmethod
    def of(cls, found: Summary) -> ApprovalOut:
        wait, request = found.wait, found.request
        return cls(
            request_id=request.id,
            task_id=wait.task_id,
            item=request.entry_id,
            item_name=request.entry_name,
            team_id=request.team_id,
            requester=found.requester_email,
            inputs=masked_inputs(request),
            waiting_for=wait.reason,
            approvers={"teams": wait.state.get("teams", []), "users": wait.state.get("users", [])},
            required=int(wait.state.get("required", 1)),
            approvals=sum(1 for d in found.decisions if d.decision == "approve"),
            decisions=[DecisionOut.model_validate(d) for d in found.decisions],
            created_at=wait.created_at,
            deadline_at=wait.deadline_at,
            url=f"/ui/requests/{request.id}",
        )


class CallbackReport(BaseModel):
    """What an outside system POSTs to a callback URL."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["success", "failure"]
    outputs: dict[str, Any] = Field(default_factory=dict, description="The task's declared outputs")
    error: str | None = Field(default=None, max_length=2000, description="Why it failed")
