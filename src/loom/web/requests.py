"""The requests list: yours by default, or every request of your teams (organisation
admins: of every team, as the API's `mine=false`), filtered by state and item, a page at
a time by cursor. The query is the request service's (`requests_query`), so the portal
and the API see exactly the same rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from loom.api.deps import SessionDep
from loom.api.pagination import PageParams, paginate
from loom.auth import service as auth_service
from loom.auth.models import User
from loom.auth.principal import Principal
from loom.provisioning import schemas, service
from loom.provisioning.models import Request as RequestRow
from loom.provisioning.states import RequestState
from loom.web.deps import PagePrincipal
from loom.web.paths import REQUESTS
from loom.web.routing import page_router
from loom.web.templating import render
from loom.web.timefmt import moment

router = page_router()

PAGE_SIZE = 25
SCOPES = {"mine": "Mine", "teams": "My teams'"}
Text = Annotated[str, Query(max_length=200)]


@dataclass(frozen=True)
class ListFilters:
    scope: str = "mine"
    state: str = ""
    item: str = ""

    @property
    def active(self) -> bool:
        return bool(self.state or self.item or self.scope != "mine")

    def to_service(self) -> service.RequestFilter:
        return service.RequestFilter(
            mine=self.scope == "mine",
            state=RequestState(self.state) if self.state else None,
            entry_id=self.item or None,
        )

    def query(self, **changes: str) -> str:
        """This page's URL with these filters (and `changes`)."""
        values = {"scope": self.scope, "state": self.state, "item": self.item, **changes}
        kept = {k: v for k, v in values.items() if v and not (k == "scope" and v == "mine")}
        return f"{REQUESTS}?{urlencode(kept)}" if kept else REQUESTS


def _filters(scope: str, state: str, item: str) -> ListFilters:
    return ListFilters(
        scope=scope if scope in SCOPES else "mine",
        # An unknown state filters nothing rather than failing the page.
        state=state if state in {s.value for s in RequestState} else "",
        item=item.strip(),
    )


async def _names(
    session: AsyncSession, principal: Principal, rows: list[RequestRow]
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
    """Team names and requester emails of the listed rows (through the scoped queries)."""
    teams = {t.id: t.name for t in await auth_service.list_teams(session, principal)}
    ids = {r.requester_id for r in rows}
    users = await session.scalars(auth_service.users_query(principal).where(User.id.in_(ids)))
    return teams, {u.id: u.email for u in users}


def _row(summary: schemas.RequestSummary, team: str, requester: str) -> dict[str, Any]:
    return {
        "id": str(summary.id),
        "url": summary.url,
        "item": summary.item,
        "item_name": summary.item_name,
        "kind": summary.kind,
        "state": summary.state,
        "progress": f"{summary.tasks_completed} of {summary.tasks_total}",
        "completed": summary.tasks_completed,
        "total": summary.tasks_total,
        "created": moment(summary.created_at),
        "team": team,
        "requester": requester,
    }


@router.get(REQUESTS)
async def requests_page(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    scope: Text = "mine",
    state: Text = "",
    item: Text = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    filters = _filters(scope, state, item)
    page = PageParams(limit=PAGE_SIZE, cursor=cursor or None)
    stmt = service.requests_query(principal, filters.to_service())
    async with session.begin():
        rows, next_cursor = await paginate(
            session, stmt, [RequestRow.created_at, RequestRow.id], page
        )
        teams, users = await _names(session, principal, rows)
    listed = [
        _row(schemas.RequestSummary.of(r), teams.get(r.team_id, ""), users.get(r.requester_id, ""))
        for r in rows
    ]
    context = {
        "filters": filters,
        "rows": listed,
        "scopes": SCOPES,
        "states": [s.value for s in RequestState],
        "next_url": filters.query(cursor=next_cursor) if next_cursor else None,
        "first_url": filters.query() if cursor else None,
    }
    return render(request, "requests/index.html", context)
