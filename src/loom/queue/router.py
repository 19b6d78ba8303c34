"""Queue endpoints for org admins: stats, waiting messages, dead letters and redrive.

Every endpoint takes `?queue=` (default "tasks"), one of `settings.queue.names`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from loom.api.deps import OrgAdmin, RuntimeDep, SessionDep
from loom.api.errors import envelope
from loom.api.pagination import Page, PageDep, page_body
from loom.queue import service
from loom.queue.errors import UnsupportedOperation
from loom.queue.schemas import DeadLetterOut, QueueMessageOut, QueueStatsOut, RedriveResult
from loom.queue.service import named_queue

router = APIRouter(prefix="/queue", tags=["queue"])

QueueName = Annotated[str, Query(description="A named queue of settings.queue.names")]
_UNSUPPORTED: dict[int | str, dict[str, Any]] = {
    501: {"description": "The queue's backend cannot list its messages (SQS)"}
}


def _unsupported(exc: UnsupportedOperation) -> JSONResponse:
    return envelope(501, exc.code, exc.message)


@router.get("/stats", response_model=QueueStatsOut)
async def stats(_admin: OrgAdmin, runtime: RuntimeDep, queue: QueueName = "tasks") -> Any:
    return QueueStatsOut.of(queue, await named_queue(runtime, queue).stats())


@router.get("/messages", responses={200: {"model": Page[QueueMessageOut]}, **_UNSUPPORTED})
async def list_messages(
    _admin: OrgAdmin, runtime: RuntimeDep, page: PageDep, queue: QueueName = "tasks"
) -> Any:
    """Waiting and in-flight messages in delivery order."""
    try:
        found = await named_queue(runtime, queue).list(limit=page.limit, cursor=page.cursor)
    except UnsupportedOperation as exc:
        return _unsupported(exc)
    return page_body([QueueMessageOut.of(m) for m in found.items], found.next_cursor, page)


@router.get(
    "/messages/{group_id}", responses={200: {"model": Page[QueueMessageOut]}, **_UNSUPPORTED}
)
async def list_group(
    group_id: str,
    _admin: OrgAdmin,
    runtime: RuntimeDep,
    page: PageDep,
    queue: QueueName = "tasks",
) -> Any:
    """One group's messages in delivery order (the head first)."""
    try:
        found = await named_queue(runtime, queue).list(
            group_id, limit=page.limit, cursor=page.cursor
        )
    except UnsupportedOperation as exc:
        return _unsupported(exc)
    return page_body([QueueMessageOut.of(m) for m in found.items], found.next_cursor, page)


@router.get("/dlq/messages", responses={200: {"model": Page[DeadLetterOut]}, **_UNSUPPORTED})
async def list_dead_letters(
    _admin: OrgAdmin, runtime: RuntimeDep, page: PageDep, queue: QueueName = "tasks"
) -> Any:
    """The dead-letter queue, oldest first."""
    try:
        found = await named_queue(runtime, queue).dlq_list(limit=page.limit, cursor=page.cursor)
    except UnsupportedOperation as exc:
        return _unsupported(exc)
    return page_body([DeadLetterOut.of(m) for m in found.items], found.next_cursor, page)


@router.post("/dlq/{message_id}/redrive", response_model=RedriveResult)
async def redrive(
    message_id: str,
    admin: OrgAdmin,
    runtime: RuntimeDep,
    session: SessionDep,
    queue: QueueName = "tasks",
) -> Any:
    """Put a dead letter back at the tail of its group, its receive count reset."""
    async with session.begin():
        await service.redrive(session, runtime, admin, queue, message_id)
    return RedriveResult(id=message_id, queue=queue)
