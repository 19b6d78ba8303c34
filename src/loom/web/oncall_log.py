"""The notification log the person sees (`notify.log_service`), newest first, filtered
by status (`dead`: what needs a person), a page at a time: the rows
`GET /api/v1/notify/notifications` answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from loom.api.deps import SessionDep
from loom.api.pagination import PageParams, paginate
from loom.errors import InvalidInput
from loom.notify.kinds import AttemptStatus
from loom.notify.log_service import ORDER, log_query
from loom.web.deps import PagePrincipal
from loom.web.oncall_rows import ONCALL, VIEWS, notification_rows
from loom.web.ops import with_query
from loom.web.routing import page_router
from loom.web.templating import render

router = page_router()

LOG = ONCALL + "/log"
PAGE_SIZE = 50
STATUSES = tuple(s.value for s in AttemptStatus)


@router.get(LOG)
async def log_page(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    status: Annotated[str, Query(max_length=20)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    if status and status not in STATUSES:
        raise InvalidInput.on("status", f"one of {', '.join(STATUSES)}")
    stmt = log_query(principal, status=AttemptStatus(status) if status else None)
    page = PageParams(limit=PAGE_SIZE, cursor=cursor or None)
    async with session.begin():
        rows, next_cursor = await paginate(session, stmt, list(ORDER), page)
        shown = await notification_rows(session, rows)
    context = {
        "views": VIEWS, "current_view": "log", "rows": shown, "status": status,
        "statuses": [(s, with_query(LOG, {"status": s})) for s in ("", *STATUSES)],
        "next_url": with_query(LOG, {"status": status, "cursor": next_cursor or ""})
        if next_cursor else None,
    }  # fmt: skip
    return render(request, "oncall/log.html", context)
