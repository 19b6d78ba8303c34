"""Approvals in the portal: the approvals awaiting you, each with its request's input and
Approve / Reject with a comment; the request page offers the same buttons to its
approvers. The list and the decision are the approvals service's, as for the API."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from starlette.responses import RedirectResponse, Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.api.pagination import PageParams, paginate
from loom.auth.principal import Principal
from loom.errors import Conflict, Forbidden, NotFound
from loom.provisioning import approvals
from loom.provisioning.dispatch import enqueue_for
from loom.provisioning.models import TaskWait
from loom.provisioning.wait_schemas import ApprovalOut
from loom.web.deps import CsrfChecked, PagePrincipal
from loom.web.paths import APPROVALS
from loom.web.redirects import safe_next
from loom.web.routing import page_router
from loom.web.templating import render
from loom.web.timefmt import moment

router = page_router()

PAGE_SIZE = 25
DONE = {"approved": "Approved.", "rejected": "Rejected: the request failed with your comment."}


def _row(found: ApprovalOut, principal: Principal) -> dict[str, Any]:
    return {
        "request_id": str(found.request_id),
        # Its page is its team's: an approver from another team decides from here.
        "url": found.url if principal.can_see_team(found.team_id) else None,
        "item": found.item,
        "item_name": found.item_name,
        "requester": found.requester,
        "inputs": found.inputs,
        "waiting_for": found.waiting_for,
        "decisions": [d.model_dump() for d in found.decisions],
        "created": moment(found.created_at),
        "deadline": moment(found.deadline_at) if found.deadline_at else None,
    }


async def _listing(
    request: Request,
    principal: Principal,
    session: SessionDep,
    cursor: str | None,
    *,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    page = PageParams(limit=PAGE_SIZE, cursor=cursor or None)
    async with session.begin():
        rows, next_cursor = await paginate(
            session, approvals.pending_query(principal, mine=True),
            [TaskWait.created_at, TaskWait.id], page,
        )  # fmt: skip
        found = [ApprovalOut.of(s) for s in await approvals.summaries(session, rows)]
    context = {
        "rows": [_row(f, principal) for f in found],
        "notice": notice,
        "next_url": f"{APPROVALS}?cursor={next_cursor}" if next_cursor else None,
        "first_url": APPROVALS if cursor else None,
    }
    return render(request, "approvals/index.html", context, status_code=status_code)


@router.get(APPROVALS)
async def approvals_page(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    return await _listing(request, principal, session, cursor, notice=DONE.get(done))


@router.post(APPROVALS + "/{request_id}/{decision}", dependencies=[CsrfChecked])
async def decide(
    request: Request,
    request_id: str,
    decision: Literal["approve", "reject"],
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Approve or reject, then back to where the form was (this list, or the request)."""
    try:
        target = uuid.UUID(request_id)
    except ValueError:
        raise NotFound("request not found") from None
    form = await request.form()
    comment = str(form.get("comment") or "").strip()[:2000]
    try:
        async with session.begin():
            await approvals.decide(
                session, principal, target, decision, comment, enqueue_for(runtime)
            )
    except (Conflict, Forbidden) as exc:
        status = 409 if isinstance(exc, Conflict) else 403
        return await _listing(request, principal, session, None, notice=exc.message,
                              status_code=status)  # fmt: skip
    back = safe_next(str(form.get("next") or ""), default=APPROVALS)
    if back == APPROVALS:
        back = f"{APPROVALS}?done={decision}d"
    return RedirectResponse(back, status_code=303)
