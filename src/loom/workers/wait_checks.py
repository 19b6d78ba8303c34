"""The leased periodic check of waiting tasks (every `workers.wait_check_seconds`, once
across replicas; see loom.platform.scheduler).

Each run claims up to BATCH waits whose check is due (loom.provisioning.waits.claim_due)
and, a few at a time, for each one: past its deadline it fails with the wait's timeout
message; otherwise the task's config is rendered again as the worker renders it and the
executor's `check(ctx, state)` is called, with no database transaction open meanwhile.
Its answer reschedules, completes or fails the wait (`apply_check`, one transaction). A
check that raises (an ActionFailed, a transport error, an executor bug) or a config that
no longer renders counts as still waiting, logged to the task once per distinct message:
a flaky remote never fails a request that is merely waiting.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from loom.actions.base import ActionFailed, run_check
from loom.actions.waits import CheckResult
from loom.db.types import utcnow
from loom.platform.runtime import Runtime
from loom.platform.scheduler import periodic
from loom.provisioning import waits
from loom.provisioning.dispatch import enqueue_for
from loom.provisioning.models import Request
from loom.provisioning.service import Enqueue
from loom.provisioning.states import TaskState
from loom.secrets.crypto import derive_key
from loom.workers.execute import prepare
from loom.workers.runner import ActionOutcome, TaskRun, task_run

log = structlog.get_logger("loom.waits")
#: Waits claimed per run, and checked at once.
BATCH = 100
CONCURRENCY = 8
#: A check's time bound; a claimed wait is left alone by other runs for HOLD_SECONDS.
CHECK_TIMEOUT_SECONDS = 30.0
HOLD_SECONDS = 300.0


@periodic(
    "provisioning.wait_checks",
    every=lambda settings: timedelta(seconds=settings.workers.wait_check_seconds),
)
async def check_waits(runtime: Runtime) -> None:
    outcomes = await check_due(runtime)
    if outcomes:
        log.info("waits checked", **outcomes)


async def check_due(runtime: Runtime, now: datetime | None = None) -> dict[str, int]:
    """Check every due wait (up to BATCH); how many ended each way."""
    now = now or utcnow()
    async with runtime.sessions() as session, session.begin():
        due = await waits.claim_due(session, now, limit=BATCH, hold_seconds=HOLD_SECONDS)
    if not due:
        return {}
    enqueue = enqueue_for(runtime)
    key = derive_key(runtime.settings.secret_key.get_secret_value())
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(wait: waits.DueWait) -> str:
        async with limit:
            try:
                return await _check_one(runtime, wait, enqueue, key, now)
            except Exception:  # one broken wait must not stop the others
                log.exception("checking a wait failed", wait_id=str(wait.id))
                return "error"

    return dict(Counter(await asyncio.gather(*(one(w) for w in due))))


async def _check_one(
    runtime: Runtime, wait: waits.DueWait, enqueue: Enqueue, key: bytes, now: datetime
) -> str:
    result: CheckResult | None = None
    problem: str | None = None
    if not wait.expired(now):
        run = await _run_of(runtime, wait.request_id, wait.task_id, key)
        if run is None:
            return "gone"
        result, problem = await _look(runtime, run, wait.state)
    async with runtime.sessions() as session, session.begin():
        return await waits.apply_check(
            session, wait, enqueue, result=result, problem=problem, now=now
        )


async def _run_of(
    runtime: Runtime, request_id: uuid.UUID, task_id: uuid.UUID, key: bytes
) -> TaskRun | None:
    async with runtime.sessions() as session, session.begin():
        request = await session.scalar(
            select(Request).options(selectinload(Request.tasks)).where(Request.id == request_id)
        )
        task = next((t for t in request.tasks if t.id == task_id), None) if request else None
        if request is None or task is None or task.state != TaskState.WAITING:
            return None
        return await task_run(session, request, task, key)


async def _look(
    runtime: Runtime, run: TaskRun, state: dict[str, Any]
) -> tuple[CheckResult | None, str | None]:
    """The executor's answer, or the problem that kept it from answering."""
    prepared = await prepare(runtime, run)
    if isinstance(prepared, ActionOutcome):
        return None, prepared.error or "the config could not be prepared"
    checker: Any = prepared.executor
    if not hasattr(checker, "check"):
        return None, f"action type '{run.action_type}' cannot check what it waits for"
    ctx = prepared.ctx
    ctx.deadline = ctx.clock() + CHECK_TIMEOUT_SECONDS
    try:
        return await run_check(checker, ctx, state), None
    except ActionFailed as failure:
        return None, failure.message
