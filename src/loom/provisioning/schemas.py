"""API shapes of requests and tasks."""

from __future__ import annotations

import uuid
from copy import deepcopy
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from loom.catalog.forms import set_path
from loom.provisioning.models import FulfillmentTask, Request
from loom.provisioning.plan import TaskSpec
from loom.secrets.service import MASK


class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: str = Field(min_length=1, max_length=63, description="Catalog item or bundle id")
    team: str | None = Field(default=None, description="Team slug or id (default: your only team)")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Form values")


class RetryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] | None = Field(
        default=None, description="Corrected form values (re-validated; the diff is audited)"
    )


class ExternalStatus(BaseModel):
    """A task's ticket as its system sees it now (`?include=external_status`)."""

    system: str = Field(description='"jira"')
    key: str
    url: str
    status: str | None = Field(description="open, in_progress or done; null with an error")
    raw_status: str | None = Field(description="The status as the system names it")
    error: str | None = Field(default=None, description="Why the status could not be read")


class TaskOut(BaseModel):
    id: uuid.UUID
    position: int
    component_id: str
    item_id: str
    action_id: str
    action_type: str
    state: str
    attempts: int
    outputs: dict[str, Any]
    external_refs: dict[str, Any]
    error: str | None
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    external_status: ExternalStatus | None = Field(
        default=None, description="Only with ?include=external_status, for tasks with a ticket"
    )

    @classmethod
    def of(cls, task: FulfillmentTask) -> TaskOut:
        return cls.model_validate(task, from_attributes=True)


class RequestSummary(BaseModel):
    id: uuid.UUID
    item: str
    item_name: str
    kind: str
    version: str
    team_id: uuid.UUID
    requester_id: uuid.UUID
    state: str
    progress: str = Field(
        description='"3 of 5 completed", and what a waiting task waits for: "1 of 3 '
        'completed, waiting for approval by team payments (1 of 2)"'
    )
    waiting_for: str | None = Field(
        default=None, description="What the request's waiting task waits for, if one waits"
    )
    tasks_total: int
    tasks_completed: int
    created_at: datetime
    finished_at: datetime | None
    url: str

    @classmethod
    def of(cls, request: Request) -> RequestSummary:
        return cls(
            id=request.id,
            item=request.entry_id,
            item_name=request.entry_name,
            kind=request.kind,
            version=request.entry_version,
            team_id=request.team_id,
            requester_id=request.requester_id,
            state=request.state,
            progress=f"{request.tasks_completed} of {request.tasks_total} completed"
            + (f", {request.waiting_for}" if request.waiting_for else ""),
            waiting_for=request.waiting_for,
            tasks_total=request.tasks_total,
            tasks_completed=request.tasks_completed,
            created_at=request.created_at,
            finished_at=request.finished_at,
            url=f"/ui/requests/{request.id}",
        )


def masked_inputs(request: Request) -> dict[str, Any]:
    # A deep copy: masking must never touch the row's own (nested) values.
    inputs = deepcopy(request.inputs)
    for path in request.secret_fields:
        set_path(inputs, path, MASK)
    return inputs


class RequestDetail(RequestSummary):
    commit_sha: str | None
    correlation_id: str
    inputs: dict[str, Any] = Field(description="Form values; secret fields shown as ••••")
    error: str | None
    tasks: list[TaskOut]
    outputs: dict[str, Any]

    @classmethod
    def of(cls, request: Request) -> RequestDetail:
        inputs = masked_inputs(request)
        outputs: dict[str, Any] = {}
        for task in request.tasks:
            outputs.update(task.outputs)
        return cls(
            **RequestSummary.of(request).model_dump(),
            commit_sha=request.commit_sha,
            correlation_id=request.correlation_id,
            inputs=inputs,
            error=request.error,
            tasks=[TaskOut.of(t) for t in request.tasks],
            outputs=outputs,
        )


class PlannedTask(BaseModel):
    position: int
    component_id: str
    item_id: str
    action_id: str
    action_type: str
    config: dict[str, Any]
    outputs: list[str]

    @classmethod
    def of(cls, spec: TaskSpec, config: dict[str, Any]) -> PlannedTask:
        return cls(
            position=spec.position,
            component_id=spec.component_id,
            item_id=spec.item_id,
            action_id=spec.action_id,
            action_type=spec.action_type,
            config=config,
            outputs=spec.declared_outputs,
        )


class Plan(BaseModel):
    item: str
    version: str
    team_id: uuid.UUID
    tasks: list[PlannedTask]


class LogLine(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    level: str
    task_id: uuid.UUID | None
    message: str
