"""The request page's "Ticket status" panel: each ticket the request's tasks opened, with
its current status read from JIRA when the person asks (a button; nothing polls), in
Loom's words (open, in progress, done). A lookup that fails shows its reason on its row."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import Request
from starlette.responses import Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.platform.http import http_clients
from loom.provisioning import schemas, service
from loom.provisioning.external_status import external_statuses
from loom.web.deps import PagePrincipal
from loom.web.paths import REQUESTS
from loom.web.request_page import parse_request_id
from loom.web.routing import page_router
from loom.web.templating import render

router = page_router()

LABELS = {"open": "open", "in_progress": "in progress", "done": "done"}


@router.get(REQUESTS + "/{request_id}/ticket-status")
async def ticket_status(
    request: Request,
    request_id: str,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    rid = parse_request_id(request_id)
    async with session.begin():
        detail = schemas.RequestDetail.of(await service.get_request(session, principal, rid))
    refs = {task.id: task.external_refs for task in detail.tasks}
    # Outside the transaction: JIRA may take a few seconds to answer.
    found = await external_statuses(rid, refs, http_clients(runtime), runtime.settings)
    rows: list[dict[str, Any]] = []
    for task in detail.tasks:
        if task.id in found:
            status = asdict(found[task.id])
            status["label"] = LABELS.get(status["status"] or "", status["status"])
            rows.append({"task": task.action_id, "position": task.position + 1, **status})
    return render(request, "requests/_ticket_status.html", {"rows": rows})
