"""Putting a queued task on the work queue. The message carries ids only; one message
group per request, so a request's tasks run strictly in order while different requests
run in parallel. Sent in the caller's transaction on the sql backend: the task's state
change and its message commit together, or neither."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loom.platform.runtime import Runtime
from loom.provisioning.models import FulfillmentTask, Request
from loom.provisioning.service import Enqueue

TASK_QUEUE = "tasks"


def task_message(request_id: uuid.UUID, task_id: uuid.UUID, correlation_id: str) -> dict[str, str]:
    """The body of a task's message: ids, and the request's correlation id, which the
    worker carries on into its logs, audit entries and outgoing calls."""
    return {
        "request_id": str(request_id),
        "task_id": str(task_id),
        "correlation_id": correlation_id,
    }


def dedup_id(task_id: uuid.UUID, queued_at: datetime | None) -> str:
    """One message per queueing of a task: each queueing (a retry's too, even of a task
    that never ran) sets a new `queued_at`, so it is never taken for a duplicate."""
    return f"{task_id}:{queued_at.timestamp():.6f}" if queued_at else str(task_id)


def enqueue_for(runtime: Runtime) -> Enqueue:
    from loom.queue.factory import queue_for

    queue = queue_for(runtime, TASK_QUEUE)

    async def enqueue(session: AsyncSession, request: Request, task: FulfillmentTask) -> None:
        await queue.send(
            str(request.id),
            task_message(request.id, task.id, request.correlation_id),
            dedup_id=dedup_id(task.id, task.queued_at),
            session=session,
        )

    return enqueue
