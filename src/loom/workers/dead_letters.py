"""The leased periodic sweep of the task queue's dead letters (every
DEAD_LETTER_SWEEP_SECONDS, once across replicas; see loom.platform.scheduler).

A task message that was received three times without being deleted (its worker died or
hung each time, or failed before it could claim the task) moves to the dead-letter
queue, and no worker will see it again. Its task would stay `queued` or `processing` and
its request would hang without a word. The sweep finds such tasks, marks them `stuck`
and fails their request, so that a person sees it and decides (retry, abort, escalate),
as for any failure. A dead letter counts only for the queueing it was sent for: a task
queued again since (a retry) has a newer message and is left alone. The dead letters
stay for operators to look at; redriving one for a stuck task does nothing (its next
delivery finds the task stuck): retry the request instead.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select

from loom.errors import NotFound
from loom.platform.runtime import Runtime
from loom.platform.scheduler import periodic
from loom.provisioning.dispatch import TASK_QUEUE
from loom.provisioning.models import FulfillmentTask
from loom.provisioning.states import REQUEST_TRANSITIONS, RequestState, TaskState
from loom.provisioning.transitions import lock_request, set_request_state, set_task_state
from loom.queue.errors import UnsupportedOperation
from loom.queue.factory import queue_for
from loom.queue.protocol import DeadLetter
from loom.workers.runner import WORKER

log = structlog.get_logger("loom.worker")
DEAD_LETTER_SWEEP_SECONDS = 30
#: Dead letters looked at per run (oldest first).
BATCH = 500


@periodic("provisioning.dead_letters", every=timedelta(seconds=DEAD_LETTER_SWEEP_SECONDS))
async def sweep_dead_letters(runtime: Runtime) -> None:
    stuck = await sweep(runtime)
    if stuck:
        log.warning("tasks whose messages were dead-lettered marked stuck", count=stuck)


async def sweep(runtime: Runtime) -> int:
    """Mark stuck the tasks whose current message is a dead letter; how many."""
    queue = queue_for(runtime, TASK_QUEUE)
    try:
        page = await queue.dlq_list(limit=BATCH)
    except UnsupportedOperation:  # a backend that cannot list its dead letters
        return 0
    letters = [(ids, letter) for letter in page.items if (ids := _ids(letter.body))]
    # Most dead letters stay long after their task was marked stuck or retried: look
    # them up in one query, and lock only the requests of tasks that are still waiting.
    async with runtime.sessions() as session:
        waiting = set(
            await session.scalars(
                select(FulfillmentTask.id).where(
                    FulfillmentTask.id.in_([task_id for (_, task_id), _ in letters]),
                    FulfillmentTask.state.in_((TaskState.QUEUED, TaskState.PROCESSING)),
                )
            )
        )
    stuck = 0
    for (request_id, task_id), letter in letters:
        if task_id in waiting and await _mark_stuck(runtime, request_id, task_id, letter):
            stuck += 1
    return stuck


def _ids(body: dict[str, Any]) -> tuple[uuid.UUID, uuid.UUID] | None:
    try:
        return uuid.UUID(str(body["request_id"])), uuid.UUID(str(body["task_id"]))
    except (KeyError, ValueError):
        return None


async def _mark_stuck(
    runtime: Runtime, request_id: uuid.UUID, task_id: uuid.UUID, letter: DeadLetter
) -> bool:
    async with runtime.sessions() as session, session.begin():
        try:
            request = await lock_request(session, request_id)
        except NotFound:
            return False
        task = next((t for t in request.tasks if t.id == task_id), None)
        if request.state == RequestState.ABORTED or task is None:
            return False
        if task.state not in (TaskState.QUEUED, TaskState.PROCESSING):
            return False
        if task.queued_at is None or task.queued_at > letter.sent_at:
            return False  # queued again since that message was sent
        reason = (
            f"its message went to the dead-letter queue after {letter.receive_count} "
            "deliveries (the worker died or hung each time)"
        )
        await set_task_state(session, request, task, TaskState.STUCK, reason=reason, error=reason)
        if RequestState.FAILED in REQUEST_TRANSITIONS[RequestState(request.state)]:
            error = f"task {task.action_id} stuck"
            await set_request_state(
                session, request, RequestState.FAILED, WORKER, reason=reason, error=error
            )
        return True
