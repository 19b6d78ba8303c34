"""The one way a request's or a task's state changes: a locked row, a check against the
transition table, the change, an audit entry and a log line, all in the caller's
transaction. An illegal transition raises and nothing is written."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.errors import IllegalTransition, NotFound
from loom.provisioning.models import FulfillmentTask, Request, TaskLog
from loom.provisioning.states import (
    REQUEST_FINAL,
    REQUEST_TRANSITIONS,
    TASK_FINAL,
    TASK_TRANSITIONS,
    RequestState,
    TaskState,
)

Actor = Principal | audit.Actor


async def lock_request(session: AsyncSession, request_id: uuid.UUID) -> Request:
    """The request row, locked for this transaction (PostgreSQL; SQLite's write lock is
    already held by BEGIN IMMEDIATE), with its tasks: both read afresh once locked, even
    if the session held them already."""
    request = await session.scalar(
        select(Request)
        .where(Request.id == request_id)
        .options(selectinload(Request.tasks))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if request is None:
        raise NotFound("request not found")
    return request


async def lock_task(session: AsyncSession, task_id: uuid.UUID) -> FulfillmentTask:
    task = await session.scalar(
        select(FulfillmentTask).where(FulfillmentTask.id == task_id).with_for_update()
    )
    if task is None:
        raise NotFound("task not found")
    return task


def log_line(
    session: AsyncSession,
    request_id: uuid.UUID,
    message: str,
    *,
    task_id: uuid.UUID | None = None,
    level: str = "info",
) -> None:
    session.add(
        TaskLog(request_id=request_id, task_id=task_id, message=message, level=level, at=utcnow())
    )


def check_request(current: RequestState, to: RequestState) -> None:
    if to not in REQUEST_TRANSITIONS[current]:
        raise IllegalTransition(f"a request cannot go from {current} to {to}")


def check_task(action_id: str, current: TaskState, to: TaskState) -> None:
    if to not in TASK_TRANSITIONS[current]:
        raise IllegalTransition(f"task {action_id} cannot go from {current} to {to}")


def request_line(current: RequestState, to: RequestState, reason: str | None = None) -> str:
    """The log line of a request's transition."""
    return f"request {current} → {to}" + (f": {reason}" if reason else "")


def task_line(
    position: int, action_id: str, current: TaskState, to: TaskState, reason: str | None = None
) -> str:
    """The log line of a task's transition (`position` counts from 0)."""
    return f"task {position + 1} ({action_id}) {current} → {to}" + (f": {reason}" if reason else "")


def request_audit(
    org_id: uuid.UUID,
    team_id: uuid.UUID,
    request_id: uuid.UUID,
    actor: Actor,
    current: RequestState,
    to: RequestState,
    reason: str | None = None,
) -> dict[str, Any]:
    """The audit entry of a request's transition (the arguments of `audit.record`)."""
    return {
        "org_id": org_id, "actor": actor, "action": f"request.{to}", "target_type": "request",
        "target_id": request_id, "team_id": team_id, "before": {"state": str(current)},
        "after": {"state": str(to), "reason": reason},
    }  # fmt: skip


def task_level(to: TaskState) -> str:
    return "error" if to in (TaskState.FAILED, TaskState.STUCK) else "info"


async def set_request_state(
    session: AsyncSession,
    request: Request,
    to: RequestState,
    actor: Actor,
    *,
    reason: str | None = None,
    **changes: Any,
) -> Request:
    current = RequestState(request.state)
    check_request(current, to)
    request.state = to
    for key, value in changes.items():
        setattr(request, key, value)
    if to in REQUEST_FINAL:
        request.finished_at = utcnow()
    log_line(session, request.id, request_line(current, to, reason))
    await audit.record(
        session, **request_audit(request.org_id, request.team_id, request.id, actor, current, to,
                                 reason),
    )  # fmt: skip
    await session.flush()
    return request


async def set_task_state(
    session: AsyncSession,
    request: Request,
    task: FulfillmentTask,
    to: TaskState,
    *,
    reason: str | None = None,
    **changes: Any,
) -> FulfillmentTask:
    current = TaskState(task.state)
    check_task(task.action_id, current, to)
    task.state = to
    now = utcnow()
    if to is TaskState.QUEUED:
        task.queued_at = now
    elif to is TaskState.PROCESSING:
        task.started_at, task.attempts = now, task.attempts + 1
    elif to in TASK_FINAL or to in (TaskState.FAILED, TaskState.STUCK):
        task.finished_at = now
    for key, value in changes.items():
        setattr(task, key, value)
    request.tasks_completed = sum(1 for t in request.tasks if t.state == TaskState.COMPLETED)
    log_line(
        session,
        request.id,
        task_line(task.position, task.action_id, current, to, reason),
        task_id=task.id,
        level=task_level(to),
    )
    # Not flushed here: the next query (autoflush) or the commit writes it, together with
    # the task's other changes in this transaction (one round trip fewer per change).
    return task
