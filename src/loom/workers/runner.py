"""Carrying out one fulfillment task from its queue message.

1. Claim (one transaction): an aborted request skips the task; a finished task means a
   duplicate message; a task already `processing` means an earlier worker died mid-task,
   so the action is asked to reconcile before anything runs again; a task whose message
   keeps timing out becomes `stuck`.
2. Run (no transaction held): render the config, hand the task its secrets, execute.
3. Finish (one transaction): store outputs and external references, queue the next task
   (in the same transaction), or complete the request; a failure fails the task and the
   request and queues nothing: a person decides what happens next (see
   loom.provisioning.progress). An action that answered with a wait leaves the task
   `waiting` (loom.provisioning.waits): the message is deleted all the same, and what
   ends the wait queues the next task.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loom.actions.waits import Wait
from loom.api.correlation import set_correlation_id
from loom.audit.service import Actor
from loom.auth.models import Membership, Team, User
from loom.provisioning import progress, waits
from loom.provisioning.models import FulfillmentTask, Request
from loom.provisioning.service import Enqueue
from loom.provisioning.states import RequestState, TaskState
from loom.provisioning.transitions import (
    lock_request,
    log_line,
    set_request_state,
    set_task_state,
)
from loom.secrets import service as secrets

log = structlog.get_logger("loom.worker")
WORKER = Actor.system("worker")
#: Tasks of one request a delivery carries out at most (see `run_task`).
CHAIN_LIMIT = 10


class Outcome(enum.StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    DUPLICATE = "duplicate"
    STUCK = "stuck"
    WAITING = "waiting"


@dataclass(frozen=True)
class TaskRun:
    """What the action sees of its task."""

    request_id: uuid.UUID
    task_id: uuid.UUID
    attempt: int
    action_type: str
    config: dict[str, Any]
    inputs: dict[str, Any]
    outputs_so_far: dict[str, Any]
    secrets: dict[str, str]
    correlation_id: str
    redelivered: bool
    org_id: uuid.UUID | None = None
    #: The catalog definition the request pinned (entry, and a bundle's items).
    definition: dict[str, Any] = field(default_factory=dict)
    #: Who asked: email, name, team slugs (the `.system.user` namespace).
    requester: dict[str, Any] = field(default_factory=dict)
    requested_at: datetime | None = None
    #: The bundle component the task belongs to ("" for an item's task), and the
    #: bundle's form values (`.current` of the component inputs rendered at run time).
    component_id: str = ""
    request_inputs: dict[str, Any] = field(default_factory=dict)
    #: External references of the earlier completed tasks, in task order.
    earlier_refs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ActionOutcome:
    ok: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    external_refs: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    error: str | None = None
    #: Set when the action's work finishes later: the task waits (outputs so far kept).
    wait: Wait | None = None


#: Runs the action of a task (rendering its config first); never raises for an action's
#: own failure: it reports it in ActionOutcome.
Execute = Callable[[TaskRun], Awaitable[ActionOutcome]]


@dataclass(frozen=True)
class Claim:
    outcome: Outcome | None  # set when there is nothing to run
    run: TaskRun | None = None


async def _claim(
    session: AsyncSession, request_id: uuid.UUID, task_id: uuid.UUID, receive_count: int,
    max_receives: int, secrets_key: bytes,
) -> Claim:  # fmt: skip
    request = await lock_request(session, request_id)
    task = next((t for t in request.tasks if t.id == task_id), None)
    if task is None:
        return Claim(Outcome.DUPLICATE)
    state = TaskState(task.state)
    if state in (TaskState.COMPLETED, TaskState.SKIPPED, TaskState.FAILED, TaskState.STUCK,
                 TaskState.WAITING, TaskState.ESCALATED):  # fmt: skip
        return Claim(Outcome.DUPLICATE)
    if request.state == RequestState.ABORTED:
        if state is TaskState.QUEUED:
            await set_task_state(
                session, request, task, TaskState.SKIPPED, reason="request aborted"
            )
        return Claim(Outcome.SKIPPED)
    redelivered = state is TaskState.PROCESSING
    if redelivered and receive_count >= max_receives:
        reason = f"its message timed out {receive_count} times (the worker died or hung)"
        await set_task_state(session, request, task, TaskState.STUCK, reason=reason, error=reason)
        await set_request_state(session, request, RequestState.FAILED, WORKER, reason=reason,
                                error=f"task {task.action_id} stuck")  # fmt: skip
        return Claim(Outcome.STUCK)
    if request.state in (RequestState.SUBMITTED, RequestState.RETRYING):
        await set_request_state(session, request, RequestState.PROCESSING, WORKER)
    if redelivered:
        log_line(session, request.id, f"task {task.position + 1} ({task.action_id}) redelivered: "
                 "reconciling before running again", task_id=task.id, level="warning")  # fmt: skip
        task.attempts += 1
    else:
        await set_task_state(session, request, task, TaskState.PROCESSING)
    return Claim(None, await task_run(session, request, task, secrets_key, redelivered))


async def task_run(
    session: AsyncSession,
    request: Request,
    task: FulfillmentTask,
    secrets_key: bytes,
    redelivered: bool = False,
) -> TaskRun:
    """What the action of `task` sees: its config and inputs, the outputs and external
    references of the earlier completed tasks, its secrets, who asked."""
    outputs: dict[str, Any] = {}
    earlier_refs: list[dict[str, Any]] = []
    for earlier in request.tasks:
        if earlier.position < task.position and earlier.state == TaskState.COMPLETED:
            outputs.update(earlier.outputs)
            earlier_refs.append(earlier.external_refs)
    revealed: dict[str, str] = {}
    if request.secret_fields:  # the submission stored secrets exactly when it had some
        revealed = await secrets.reveal(
            session, secrets_key, owner_type="request", owner_id=request.id
        )
    requester = await _requester(session, request)
    return TaskRun(
        request_id=request.id,
        task_id=task.id,
        attempt=task.attempts,
        action_type=task.action_type,
        config=task.config,
        inputs=task.inputs,
        outputs_so_far=outputs,
        secrets=revealed,
        correlation_id=request.correlation_id,
        redelivered=redelivered,
        org_id=request.org_id,
        definition=request.definition,
        requester=requester,
        requested_at=request.created_at,
        component_id=task.component_id,
        request_inputs=request.inputs,
        earlier_refs=earlier_refs,
    )


async def _requester(session: AsyncSession, request: Request) -> dict[str, Any]:
    # One query: the user once per team of theirs (once, with no team, if they have none).
    rows = (
        await session.execute(
            select(User.email, User.name, Team.slug)
            .outerjoin(Membership, Membership.user_id == User.id)
            .outerjoin(Team, Team.id == Membership.team_id)
            .where(User.id == request.requester_id)
            .order_by(Team.slug)
        )
    ).all()
    return {
        "email": rows[0].email if rows else "",
        "name": rows[0].name if rows else "",
        "teams": [row.slug for row in rows if row.slug is not None],
    }


async def _finish(
    session: AsyncSession, run: TaskRun, result: ActionOutcome, enqueue: Enqueue
) -> Outcome:
    request = await lock_request(session, run.request_id)
    task = next(t for t in request.tasks if t.id == run.task_id)
    for line in result.log:
        log_line(session, request.id, line, task_id=task.id)
    if not result.ok:
        await progress.task_failed(session, request, task, result.error or "failed", WORKER)
        return Outcome.FAILED
    if result.wait is not None:
        await waits.start_waiting(
            session, request, task, result.wait, enqueue,
            outputs=result.outputs, external_refs=result.external_refs,
        )  # fmt: skip
        if request.state == RequestState.ABORTED and task.state == TaskState.WAITING:
            await waits.abort_wait(session, request, task)  # aborted while it ran
        return Outcome.WAITING
    await progress.task_completed(
        session, request, task, enqueue, WORKER,
        outputs=result.outputs, external_refs=result.external_refs,
    )  # fmt: skip
    return Outcome.COMPLETED


@dataclass
class Delivery:
    """The queue delivery a task runs from; `acked` once a transaction of the run deleted
    its message (the caller then has nothing left to delete)."""

    receipt: str
    acked: bool = False


class FastPath(Protocol):
    """The PostgreSQL hot path of claim and finish (loom.workers.fast_path): each answers
    None / False, having written nothing, for a case it leaves to the ORM path here."""

    async def claim(self, request_id: uuid.UUID, task_id: uuid.UUID) -> TaskRun | None: ...

    async def finish(
        self,
        run: TaskRun,
        result: ActionOutcome,
        delivery: Delivery | None = None,
        *,
        chain: bool = False,
    ) -> bool | TaskRun: ...


async def run_task(
    sessions: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
    *,
    receive_count: int,
    max_receives: int,
    secrets_key: bytes,
    execute: Execute,
    enqueue: Enqueue,
    timeout_seconds: float,
    fast: FastPath | None = None,
    delivery: Delivery | None = None,
    may_chain: Callable[[], bool] = lambda: False,
) -> Outcome:
    """Carry out the task a queue message names; the caller deletes the message after,
    unless `delivery` says the run did (the fast path deletes it as it completes the
    task, in the same transaction).

    While `may_chain()` says so, the fast path hands the request's next task to this same
    run (up to CHAIN_LIMIT tasks a delivery, so that one request never keeps a consumer
    for long from the others); the outcome is then the last task's."""
    request_id, task_id = uuid.UUID(body["request_id"]), uuid.UUID(body["task_id"])
    structlog.contextvars.bind_contextvars(request_id=str(request_id), task_id=str(task_id))
    if isinstance(cid := body.get("correlation_id"), str):  # older messages carry none
        set_correlation_id(cid)
        structlog.contextvars.bind_contextvars(correlation_id=cid)
    run = await fast.claim(request_id, task_id) if fast is not None else None
    if run is None:
        async with sessions() as session, session.begin():
            claim = await _claim(
                session, request_id, task_id, receive_count, max_receives, secrets_key
            )
        if claim.run is None:
            assert claim.outcome is not None
            return claim.outcome
        run = claim.run
    chained = 0
    while True:
        chained += 1
        result = await _execute(execute, run, timeout_seconds)
        if fast is not None:
            finished = await fast.finish(
                run, result, delivery, chain=chained < CHAIN_LIMIT and may_chain()
            )
            if isinstance(finished, TaskRun):
                run = finished
                structlog.contextvars.bind_contextvars(task_id=str(run.task_id))
                continue
            if finished:
                return Outcome.COMPLETED
        async with sessions() as session, session.begin():
            return await _finish(session, run, result, enqueue)


async def _execute(execute: Execute, run: TaskRun, timeout_seconds: float) -> ActionOutcome:
    try:
        return await asyncio.wait_for(execute(run), timeout=timeout_seconds)
    except TimeoutError:
        return ActionOutcome(ok=False, error=f"the action took longer than {timeout_seconds:g} s")
    except Exception as exc:  # an executor bug must fail the task, not kill the worker
        log.exception("action crashed", action_type=run.action_type)
        return ActionOutcome(ok=False, error=f"the action crashed: {type(exc).__name__}")
