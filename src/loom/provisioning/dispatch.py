"""Putting a queued task on the work queue. The message carries ids only; one message
group per request, so a request's tasks run strictly in order while different requests
run in parallel. Sent in the caller's transaction on the sql backend: the task's state
change and its message commit together, or neither."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loom.platform.runtime import Runtime
from loom.provisioning.models import FulfillmentTask, Request
from loom.provisioning.service import Enqueue

TASK_QUEUE = "tasks"


def enqueue_for(runtime: Runtime) -> Enqueue:
    from loom.queue.factory import queue_for

    queue = queue_for(runtime, TASK_QUEUE)

    async def enqueue(session: AsyncSession, request: Request, task: FulfillmentTask) -> None:
        await queue.send(
            str(request.id),
            {"request_id": str(request.id), "task_id": str(task.id)},
            # One message per queueing of a task: a retry (more attempts) queues anew.
            dedup_id=f"{task.id}:{task.attempts}",
            session=session,
        )

    return enqueue
