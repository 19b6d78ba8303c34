"""The queue page, for organisation admins: a named queue's figures (depth, in flight,
oldest age, processing rate, dead letters; refreshed every few seconds), its waiting
messages and its dead-letter queue, with a Redrive button per dead letter. The same
service functions and output shapes (secret-looking body values masked) as
/api/v1/queue."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from starlette.responses import RedirectResponse, Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.platform.runtime import Runtime
from loom.queue import service
from loom.queue.errors import UnsupportedOperation
from loom.queue.protocol import Queue
from loom.queue.schemas import DeadLetterOut, QueueMessageOut, QueueStatsOut
from loom.web.deps import CsrfChecked, PagePrincipal
from loom.web.paths import QUEUE, request_path
from loom.web.routing import page_router
from loom.web.templating import render
from loom.web.timefmt import moment

router = page_router()

PAGE_SIZE = 25
STATS_REFRESH_SECONDS = 5
Name = Annotated[str, Query(alias="queue", max_length=80)]
Cursor = Annotated[str | None, Query(max_length=500)]


def _admin(principal: Principal) -> None:
    principal.require_org_role(Role.ADMIN)


def _url(name: str, **params: str | None) -> str:
    kept = {"queue": name, **{k: v for k, v in params.items() if v}}
    return f"{QUEUE}?{urlencode(kept)}"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


async def _stats(runtime: Runtime, name: str) -> dict[str, Any]:
    stats = QueueStatsOut.of(name, await service.named_queue(runtime, name).stats())
    return {
        **stats.model_dump(),
        "oldest_age": _age(stats.oldest_age_seconds),
        "refresh_seconds": STATS_REFRESH_SECONDS,
        "fragment": f"{QUEUE}/stats?{urlencode({'queue': name})}",
    }


def _body(body: dict[str, Any]) -> dict[str, Any]:
    request_id = body.get("request_id")
    return {
        "text": json.dumps(body, ensure_ascii=False, sort_keys=True),
        "request_url": request_path(request_id) if isinstance(request_id, str) else None,
    }


def _message(out: QueueMessageOut) -> dict[str, Any]:
    return {
        "id": out.id,
        "group": out.group_id,
        "state": out.state.value,
        "receives": out.receive_count,
        "sent": moment(out.sent_at),
        "visible": moment(out.visible_at),
        "body": _body(out.body),
    }


def _letter(out: DeadLetterOut) -> dict[str, Any]:
    return {
        "id": out.id,
        "group": out.group_id,
        "receives": out.receive_count,
        "sent": moment(out.sent_at),
        "dead": moment(out.dead_at),
        "body": _body(out.body),
    }


async def _listings(
    queue: Queue, cursor: str | None, dlq_cursor: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The waiting messages and the dead letters, a page of each (or why not: SQS cannot
    list its messages)."""
    try:
        found = await queue.list(limit=PAGE_SIZE, cursor=cursor)
        letters = await queue.dlq_list(limit=PAGE_SIZE, cursor=dlq_cursor)
    except UnsupportedOperation as exc:
        nothing: dict[str, Any] = {"unsupported": exc.message, "items": [], "next": None}
        return nothing, nothing
    return (
        {"unsupported": None, "items": [_message(QueueMessageOut.of(m)) for m in found.items],
         "next": found.next_cursor},
        {"unsupported": None, "items": [_letter(DeadLetterOut.of(m)) for m in letters.items],
         "next": letters.next_cursor},
    )  # fmt: skip


@router.get(QUEUE)
async def queue_page(
    request: Request,
    principal: PagePrincipal,
    runtime: RuntimeDep,
    name: Name = "tasks",
    cursor: Cursor = None,
    dlq_cursor: Cursor = None,
    redriven: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    _admin(principal)
    stats = await _stats(runtime, name)
    messages, letters = await _listings(service.named_queue(runtime, name), cursor, dlq_cursor)
    context = {
        "name": name,
        "names": runtime.settings.queue.names,
        "stats": stats,
        "messages": messages,
        "letters": letters,
        "redriven": redriven,
        "next_messages": _url(name, cursor=messages["next"], dlq_cursor=dlq_cursor),
        "next_letters": _url(name, cursor=cursor, dlq_cursor=letters["next"]),
        "first_url": _url(name) if cursor or dlq_cursor else None,
        "queue_url": QUEUE,
    }
    return render(request, "queue/index.html", context)


@router.get(QUEUE + "/stats")
async def stats_fragment(
    request: Request, principal: PagePrincipal, runtime: RuntimeDep, name: Name = "tasks"
) -> Response:
    _admin(principal)
    return render(request, "queue/_stats.html", {"stats": await _stats(runtime, name)})


@router.post(QUEUE + "/dlq/{message_id}/redrive", dependencies=[CsrfChecked])
async def redrive(
    message_id: str,
    principal: PagePrincipal,
    runtime: RuntimeDep,
    session: SessionDep,
    name: Annotated[str, Form(alias="queue", max_length=80)] = "tasks",
) -> Response:
    _admin(principal)
    async with session.begin():
        await service.redrive(session, runtime, principal, name, message_id)
    return RedirectResponse(_url(name, redriven=message_id), status_code=303)
