"""What follows the end of a task, wherever it ends (a worker, a wait's check, an
approval, a callback): a completed task queues the next one, in the caller's
transaction, or completes the request; a failed task fails the request, and nothing more
is queued: a person decides what happens next. The request is locked by the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from loom.provisioning.models import FulfillmentTask, Request
from loom.provisioning.states import RequestState, TaskState
from loom.provisioning.transitions import Actor, set_request_state, set_task_state
from loom.secrets import service as secrets

if TYPE_CHECKING:  # the service imports this module (through waits)
    from loom.provisioning.service import Enqueue


async def task_completed(
    session: AsyncSession,
    request: Request,
    task: FulfillmentTask,
    enqueue: Enqueue,
    actor: Actor,
    *,
    outputs: dict[str, Any],
    external_refs: dict[str, Any],
    reason: str | None = None,
) -> None:
    await set_task_state(session, request, task, TaskState.COMPLETED, reason=reason,
                         outputs=outputs, external_refs=external_refs)  # fmt: skip
    if request.state == RequestState.ABORTED:
        return
    following = [t for t in request.tasks if t.position > task.position]
    upcoming = next((t for t in following if t.state == TaskState.PENDING), None)
    if upcoming is not None:
        await set_task_state(session, request, upcoming, TaskState.QUEUED)
        await enqueue(session, request, upcoming)
    elif all(t.state == TaskState.COMPLETED for t in request.tasks):
        await set_request_state(session, request, RequestState.COMPLETED, actor)
        await secrets.forget(session, owner_type="request", owner_id=request.id)


async def task_failed(
    session: AsyncSession, request: Request, task: FulfillmentTask, error: str, actor: Actor
) -> None:
    await set_task_state(session, request, task, TaskState.FAILED, reason=error, error=error)
    if request.state != RequestState.ABORTED:
        await set_request_state(session, request, RequestState.FAILED, actor,
                                reason=error, error=error)  # fmt: skip
