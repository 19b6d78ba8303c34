"""Requests: plan and submit catalog items and bundles, then follow, retry or abort them;
approve or reject those waiting for an approval; escalate failed ones to people and
complete them once done by hand."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from loom.client.base import HttpCore, parse_as
from loom.client.models import ApiModel
from loom.client.pagination import Page, iterate

#: The states a request ends in (nothing changes it afterwards).
FINAL_STATES = frozenset({"completed", "aborted"})
#: The states `--wait` stops at: final ones, and a failure (which waits for a person,
#: escalated or not).
SETTLED_STATES = frozenset({"completed", "failed", "aborted", "escalated"})
#: Escalating calls JIRA a few times per task (the server gives up after a minute).
ESCALATE_TIMEOUT = 75.0


class TaskDetail(ApiModel):
    id: uuid.UUID
    position: int
    component_id: str
    item_id: str
    action_id: str
    action_type: str
    state: str
    attempts: int = 0
    outputs: dict[str, Any] = {}
    external_refs: dict[str, Any] = {}
    error: str | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RequestSummary(ApiModel):
    id: uuid.UUID
    item: str
    item_name: str
    kind: str
    version: str
    team_id: uuid.UUID
    requester_id: uuid.UUID
    state: str
    #: "3 of 5 completed"
    progress: str
    tasks_total: int
    tasks_completed: int
    created_at: datetime
    finished_at: datetime | None = None
    #: The portal page tracking the request, relative to the server's base URL.
    url: str
    #: What its waiting task waits for ("waiting for approval by team payments (1 of 2)").
    waiting_for: str | None = None


class RequestDetail(RequestSummary):
    commit_sha: str | None = None
    correlation_id: str
    #: Form values; secret fields shown as ••••.
    inputs: dict[str, Any] = {}
    error: str | None = None
    tasks: list[TaskDetail] = []
    outputs: dict[str, Any] = {}


class TaskStatus(ApiModel):
    position: int
    action_id: str
    state: str


class RequestStatus(ApiModel):
    """State and progress only (cheap to poll)."""

    id: uuid.UUID
    state: str
    progress: str
    tasks: list[TaskStatus] = []

    @property
    def completed(self) -> int:
        return sum(1 for t in self.tasks if t.state == "completed")

    @property
    def settled(self) -> bool:
        return self.state in SETTLED_STATES


class PlannedTask(ApiModel):
    position: int
    component_id: str
    item_id: str
    action_id: str
    action_type: str
    config: dict[str, Any] = {}
    outputs: list[str] = []


class Plan(ApiModel):
    item: str
    version: str
    team_id: uuid.UUID
    tasks: list[PlannedTask]


class LogLine(ApiModel):
    at: datetime
    level: str
    task_id: uuid.UUID | None = None
    message: str


class Decision(ApiModel):
    email: str
    decision: str
    comment: str = ""
    at: datetime


class Approval(ApiModel):
    """An open approval: the request it holds, who may decide, the decisions so far."""

    request_id: uuid.UUID
    task_id: uuid.UUID
    item: str
    item_name: str
    team_id: uuid.UUID
    requester: str
    inputs: dict[str, Any] = {}
    waiting_for: str
    approvers: dict[str, Any] = {}
    required: int
    approvals: int
    decisions: list[Decision] = []
    created_at: datetime
    deadline_at: datetime | None = None
    url: str


class RequestFilter(BaseModel):
    """The filters `GET /requests` accepts; `mine` false lists your teams' requests."""

    mine: bool = True
    state: str | None = None
    item: str | None = None
    team_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


def _body(item: str, team: str | None, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"item": item, "inputs": dict(inputs or {})}
    if team is not None:
        body["team"] = team
    return body


class RequestsApi:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def plan(
        self, item: str, inputs: Mapping[str, Any] | None = None, *, team: str | None = None
    ) -> Plan:
        """Validate input and show every task that would run; nothing is stored."""
        return self._core.post("/requests/plan", Plan, json=_body(item, team, inputs))

    def submit(
        self,
        item: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        team: str | None = None,
        idempotency_key: str | None = None,
    ) -> RequestDetail:
        """Request a catalog item or bundle (`team`: slug or id, default your only team).
        Invalid input raises `ApiError` with one detail per field (`inputs.<path>`)."""
        return self._core.post(
            "/requests",
            RequestDetail,
            json=_body(item, team, inputs),
            ok=(200, 201),
            idempotency_key=idempotency_key,
        )

    def list(
        self,
        where: RequestFilter | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[RequestSummary]:
        """One page of requests, newest first."""
        params: dict[str, Any] = (where or RequestFilter()).model_dump(exclude_none=True)
        params["mine"] = "true" if params.get("mine", True) else "false"
        params.update(limit=limit, cursor=cursor)
        return self._core.get("/requests", Page[RequestSummary], params=params)

    def iter(
        self,
        where: RequestFilter | None = None,
        *,
        page_size: int = 100,
        max_items: int | None = None,
    ) -> Iterator[RequestSummary]:
        """Every matching request, fetching pages as they are consumed."""
        return iterate(
            lambda cursor: self.list(where, limit=page_size, cursor=cursor), max_items=max_items
        )

    def get(self, request_id: uuid.UUID | str) -> RequestDetail:
        return self._core.get(f"/requests/{request_id}", RequestDetail)

    def status(self, request_id: uuid.UUID | str) -> RequestStatus:
        return self._core.get(f"/requests/{request_id}/status", RequestStatus)

    def logs(self, request_id: uuid.UUID | str) -> builtins.list[LogLine]:
        response = self._core.request("GET", f"/requests/{request_id}/logs")
        return parse_as(response, builtins.list[LogLine])

    def retry(
        self, request_id: uuid.UUID | str, inputs: Mapping[str, Any] | None = None
    ) -> RequestDetail:
        """Re-queue the failed task and those after it (operators), with corrected input
        when given (re-validated)."""
        body = {"inputs": dict(inputs)} if inputs is not None else None
        return self._core.post(f"/requests/{request_id}/retry", RequestDetail, json=body)

    def abort(self, request_id: uuid.UUID | str) -> RequestDetail:
        """Skip every task not done yet and end the request (operators)."""
        return self._core.post(f"/requests/{request_id}/abort", RequestDetail)

    def escalate(
        self, request_id: uuid.UUID | str, *, idempotency_key: str | None = None
    ) -> RequestDetail:
        """Hand a failed (or stuck) request's failed task and every task after it to
        people as chained JIRA tickets (operators); each escalated task's
        `external_refs` names its ticket. JIRA failing is an `ApiError` (502, 503)."""
        return self._core.post(
            f"/requests/{request_id}/escalate", RequestDetail, idempotency_key=idempotency_key,
            timeout=ESCALATE_TIMEOUT,
        )  # fmt: skip

    def complete(self, request_id: uuid.UUID | str, comment: str = "") -> RequestDetail:
        """An escalated request's work was done by hand: complete it (operators)."""
        body = {"comment": comment} if comment else None
        return self._core.post(f"/requests/{request_id}/complete", RequestDetail, json=body)

    def approve(self, request_id: uuid.UUID | str, comment: str = "") -> RequestDetail:
        """Approve the approval the request waits for (eligible approvers only, never
        the requester)."""
        return self._decide(request_id, "approve", comment)

    def reject(self, request_id: uuid.UUID | str, comment: str = "") -> RequestDetail:
        """Reject it: the request fails with the comment."""
        return self._decide(request_id, "reject", comment)

    def _decide(self, request_id: uuid.UUID | str, decision: str, comment: str) -> RequestDetail:
        body = {"comment": comment} if comment else None
        return self._core.post(f"/requests/{request_id}/{decision}", RequestDetail, json=body)

    def approvals(
        self, *, mine: bool = True, limit: int | None = None, cursor: str | None = None
    ) -> Page[Approval]:
        """One page of open approvals, newest first: awaiting your decision, or (`mine`
        false) every one you can see."""
        params = {"mine": "true" if mine else "false", "limit": limit, "cursor": cursor}
        return self._core.get("/approvals", Page[Approval], params=params)
