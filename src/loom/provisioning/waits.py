"""Waiting tasks: the one place a wait starts, is rescheduled and ends.

A worker whose action answers with a `Wait` (see loom.actions.waits) stores it here and
sets the task `waiting`; it then deletes its queue message, so neither a worker nor the
request's queue group is held, and nothing more is queued. A wait ends in one of three
ways, each through this module in one transaction with the request locked:

* `complete_wait`: the periodic check saw it done, enough approvers approved, or a
  callback reported success; the outputs are merged into the task's and the next task
  is queued (or the request completed) exactly as when a worker completes a task
  (loom.provisioning.progress);
* `fail_wait`: a check failed, an approver rejected, a callback reported failure, or the
  deadline passed; the request fails and waits for a person (a retry opens a new wait);
* `abort_wait`: the request was aborted; the task is skipped.

The periodic check (loom.workers.wait_checks) claims due waits with `claim_due` and
hands each result to `apply_check`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.actions.waits import CheckResult, Wait
from loom.audit import service as audit
from loom.db.types import utcnow
from loom.errors import Conflict
from loom.provisioning import progress
from loom.provisioning.models import FulfillmentTask, Request, TaskLog, TaskWait
from loom.provisioning.states import TaskState
from loom.provisioning.transitions import Actor, lock_request, log_line, set_task_state

if TYPE_CHECKING:  # the service imports this module
    from loom.provisioning.service import Enqueue

WAIT_CHECK = audit.Actor.system("wait-check")


def next_check(now: datetime, every_seconds: float, deadline: datetime | None) -> datetime:
    """When to look next: after `every_seconds`, never later than the deadline."""
    at = now + timedelta(seconds=every_seconds)
    return min(at, deadline) if deadline is not None else at


async def start_waiting(
    session: AsyncSession,
    request: Request,
    task: FulfillmentTask,
    wait: Wait,
    enqueue: Enqueue,
    *,
    outputs: dict[str, Any],
    external_refs: dict[str, Any],
) -> TaskWait:
    """Store `wait` for the processing `task` (replacing the wait of an earlier attempt)
    with what `execute` produced so far, and set the task `waiting`."""
    await session.execute(delete(TaskWait).where(TaskWait.task_id == task.id))
    now = utcnow()
    deadline = (
        now + timedelta(seconds=wait.timeout_seconds) if wait.timeout_seconds is not None else None
    )
    row = TaskWait(
        task_id=task.id, request_id=request.id, org_id=request.org_id, kind=wait.kind,
        reason=wait.reason, state=dict(wait.state), every_seconds=wait.every_seconds,
        next_check_at=next_check(now, wait.every_seconds, deadline), deadline_at=deadline,
        timeout_message=wait.timeout_message, created_at=now,
    )  # fmt: skip
    session.add(row)
    await set_task_state(session, request, task, TaskState.WAITING, reason=wait.reason,
                         outputs=outputs, external_refs=external_refs)  # fmt: skip
    request.waiting_for = wait.reason
    await session.flush()
    from loom.provisioning import approvals  # approvals builds on this module

    if row.kind == approvals.KIND:
        await approvals.opened(session, request, task, row, enqueue)
    return row


async def open_wait(session: AsyncSession, task: FulfillmentTask) -> TaskWait | None:
    """The open wait of a waiting task (None for any other task)."""
    if task.state != TaskState.WAITING:
        return None
    return await session.scalar(
        select(TaskWait).where(TaskWait.task_id == task.id, TaskWait.completed_at.is_(None))
    )


async def _closing(
    session: AsyncSession, request: Request, task: FulfillmentTask, outcome: str
) -> TaskWait:
    row = await open_wait(session, task)
    if row is None:
        raise Conflict(f"task {task.action_id} is not waiting (it is {task.state})")
    row.completed_at, row.outcome = utcnow(), outcome
    request.waiting_for = None
    return row


async def complete_wait(
    session: AsyncSession,
    request: Request,
    task: FulfillmentTask,
    enqueue: Enqueue,
    actor: Actor,
    *,
    outputs: dict[str, Any] | None = None,
    external_refs: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """The wait is over and the task completed: its outputs are those of `execute`
    with `outputs` over them; the next task is queued (or the request completed)."""
    await _closing(session, request, task, "completed")
    await progress.task_completed(
        session, request, task, enqueue, actor, reason=reason,
        outputs={**task.outputs, **(outputs or {})},
        external_refs={**task.external_refs, **(external_refs or {})},
    )  # fmt: skip


async def fail_wait(
    session: AsyncSession,
    request: Request,
    task: FulfillmentTask,
    error: str,
    actor: Actor,
    *,
    outcome: str = "failed",
) -> None:
    """The wait failed (rejected, timed out, reported failure): the task and the
    request fail."""
    await _closing(session, request, task, outcome)
    await progress.task_failed(session, request, task, error, actor)


async def abort_wait(session: AsyncSession, request: Request, task: FulfillmentTask) -> None:
    """The request was aborted while the task waited: the wait is closed, the task
    skipped."""
    await _closing(session, request, task, "aborted")
    await set_task_state(session, request, task, TaskState.SKIPPED, reason="request aborted")


@dataclass(frozen=True)
class DueWait:
    """A wait the periodic check claimed: what it needs without holding the row."""

    id: uuid.UUID
    task_id: uuid.UUID
    request_id: uuid.UUID
    kind: str
    state: dict[str, Any]
    deadline_at: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.deadline_at is not None and self.deadline_at <= now


async def claim_due(
    session: AsyncSession, now: datetime, *, limit: int, hold_seconds: float
) -> list[DueWait]:
    """Up to `limit` open waits whose check is due, oldest first, each pushed back by
    `hold_seconds` so that an overlapping run leaves them alone while they are checked
    (rows another transaction holds are skipped on PostgreSQL; SQLite has one writer)."""
    rows = (
        await session.scalars(
            select(TaskWait)
            .where(TaskWait.completed_at.is_(None), TaskWait.next_check_at <= now)
            .order_by(TaskWait.next_check_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    claimed = []
    for row in rows:
        row.next_check_at = now + timedelta(seconds=hold_seconds)
        claimed.append(
            DueWait(row.id, row.task_id, row.request_id, row.kind, dict(row.state), row.deadline_at)
        )
    await session.flush()
    return claimed


async def apply_check(
    session: AsyncSession,
    due: DueWait,
    enqueue: Enqueue,
    *,
    result: CheckResult | None = None,
    problem: str | None = None,
    now: datetime | None = None,
) -> str:
    """Act on one look at a claimed wait: past its deadline it fails with its timeout
    message; a `problem` (the check raised) keeps it waiting, logged once per distinct
    message; otherwise the check's result reschedules, completes or fails it. Returns
    what happened ("gone" when the wait ended meanwhile, by an approval or an abort)."""
    now = now or utcnow()
    request = await lock_request(session, due.request_id)
    task = next((t for t in request.tasks if t.id == due.task_id), None)
    row = await open_wait(session, task) if task is not None else None
    if task is None or row is None or row.id != due.id:
        return "gone"
    if due.expired(now):
        await fail_wait(session, request, task, row.timeout_message, WAIT_CHECK,
                        outcome="timed_out")  # fmt: skip
        return "timed_out"
    if problem is not None or result is None:
        line = f"check: {problem or 'the check gave no answer'} (still waiting)"
        if line != row.last_error and not await _logged(session, task, line):
            log_line(session, request.id, line, task_id=task.id, level="warning")
        row.last_error = line
        row.next_check_at = next_check(now, row.every_seconds, row.deadline_at)
        return "waiting"
    if result.status == "done":
        await complete_wait(session, request, task, enqueue, WAIT_CHECK,
                            outputs=dict(result.outputs),
                            external_refs=dict(result.external_refs))  # fmt: skip
        return "completed"
    if result.status == "failed":
        await fail_wait(session, request, task, result.error or "the wait failed", WAIT_CHECK)
        return "failed"
    reschedule(session, request, task, row, now, reason=result.reason, state=result.state)
    return "waiting"


async def _logged(session: AsyncSession, task: FulfillmentTask, line: str) -> bool:
    """Whether the task's log has this line already (a problem that came back)."""
    found = await session.scalar(
        select(TaskLog.id).where(TaskLog.task_id == task.id, TaskLog.message == line).limit(1)
    )
    return found is not None


def reschedule(
    session: AsyncSession,
    request: Request,
    task: FulfillmentTask,
    row: TaskWait,
    now: datetime,
    *,
    reason: str | None = None,
    state: Any = None,
) -> None:
    """Still waiting: a new reason is logged and shown; the next check is scheduled."""
    row.last_error = None
    if state is not None:
        row.state = dict(state)
    if reason and reason != row.reason:
        row.reason = request.waiting_for = reason
        log_line(session, request.id, reason, task_id=task.id)
    row.next_check_at = next_check(now, row.every_seconds, row.deadline_at)
