"""The incident list: open incidents first (worst severity, then newest), then the
recently resolved a page at a time, filtered by state, severity and service. The query
is the incidents domain's (`queries.incidents_query`), so the portal and the API list the
same incidents; rows are the API's shapes (`views.incidents_out`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from loom.api.deps import SessionDep
from loom.api.pagination import PageParams, paginate
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.errors import InvalidInput
from loom.incidents import queries, schemas, views
from loom.incidents.models import Incident
from loom.web.deps import PagePrincipal
from loom.web.ops import INCIDENTS, SEVERITIES, age, incident_path, severity_rank, with_query
from loom.web.routing import page_router
from loom.web.services import service_path
from loom.web.templating import render
from loom.web.timefmt import moment

router = page_router()

PAGE_SIZE = 25
#: Open incidents are listed whole (there are few, or nobody would read them all anyway);
#: past this many the page says so.
OPEN_LIMIT = 200
STATES = {"all": "Open and resolved", "open": "Open", "resolved": "Resolved"}
Text = Annotated[str, Query(max_length=200)]


@dataclass(frozen=True)
class ListFilters:
    state: str = "all"
    severity: str = ""
    service: str = ""

    @property
    def active(self) -> bool:
        return bool(self.severity or self.service or self.state != "all")

    def to_query(self, *, open_: bool) -> queries.IncidentFilter:
        return queries.IncidentFilter(
            open=open_, severity=self.severity or None, service=self.service or None
        )

    def query(self, **changes: str) -> str:
        """This page's URL with these filters (and `changes`)."""
        values = {"state": self.state, "severity": self.severity, "service": self.service,
                  **changes}  # fmt: skip
        if values["state"] == "all":
            values["state"] = ""
        return with_query(INCIDENTS, values)


def _filters(state: str, severity: str, service: str) -> ListFilters:
    # An unknown state or severity filters nothing rather than failing the page; an
    # unknown service is said on the page (the query refuses it, naming the field).
    return ListFilters(
        state=state if state in STATES else "all",
        severity=severity if severity in SEVERITIES else "",
        service=service.strip(),
    )


def row(item: schemas.IncidentSummary, now: datetime) -> dict[str, Any]:
    return {
        "number": item.number,
        "ref": f"INC-{item.number}",
        "url": incident_path(item.number),
        "title": item.title,
        "severity": item.severity.value,
        "status": item.status.value,
        "merged_into": item.merged_into,
        "merged_url": incident_path(item.merged_into) if item.merged_into else None,
        "age": age(item.opened_at, now),
        "opened": moment(item.opened_at),
        "resolved": moment(item.resolved_at),
        "firing": item.firing_count,
        "alerts": item.alert_count,
        "root_cause": item.root_cause,
        "root_cause_url": service_path(item.root_cause) if item.root_cause else None,
        "assignee": item.assignee,
        "hold_open": item.hold_open,
    }


async def _open_rows(
    session: AsyncSession, principal: Principal, filters: ListFilters
) -> tuple[list[schemas.IncidentSummary], bool]:
    stmt = await queries.incidents_query(session, principal, filters.to_query(open_=True))
    rows = list(await session.scalars(stmt.order_by(Incident.number.desc()).limit(OPEN_LIMIT + 1)))
    more = len(rows) > OPEN_LIMIT
    items = await views.incidents_out(session, rows[:OPEN_LIMIT])
    items.sort(key=lambda i: (-severity_rank(i.severity), -i.number))
    return items, more  # type: ignore[return-value]


async def _resolved_rows(
    session: AsyncSession, principal: Principal, filters: ListFilters, page: PageParams
) -> tuple[list[schemas.IncidentSummary], str | None]:
    stmt = await queries.incidents_query(session, principal, filters.to_query(open_=False))
    rows, next_cursor = await paginate(session, stmt, [Incident.number], page)
    return await views.incidents_out(session, rows), next_cursor  # type: ignore[return-value]


@router.get(INCIDENTS)
async def incidents_page(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    state: Text = "all",
    severity: Text = "",
    service: Text = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    filters = _filters(state, severity, service)
    page = PageParams(limit=PAGE_SIZE, cursor=cursor or None)
    now = utcnow()
    open_rows: list[schemas.IncidentSummary] = []
    resolved_rows: list[schemas.IncidentSummary] = []
    more_open, next_cursor, problem = False, None, None
    try:
        async with session.begin():
            # The open ones head every page of the list but the later ones of "resolved".
            if filters.state != "resolved" and not cursor:
                open_rows, more_open = await _open_rows(session, principal, filters)
            if filters.state != "open":
                resolved_rows, next_cursor = await _resolved_rows(session, principal, filters, page)
    except InvalidInput as exc:
        problem = exc.details[0].issue if exc.details else exc.message
    context = {
        "filters": filters,
        "states": STATES,
        "severities": SEVERITIES,
        "problem": problem,
        "open_rows": [row(i, now) for i in open_rows],
        "more_open": more_open,
        "open_limit": OPEN_LIMIT,
        "resolved_rows": [row(i, now) for i in resolved_rows],
        "show_open": filters.state != "resolved" and not cursor,
        "show_resolved": filters.state != "open",
        "next_url": filters.query(cursor=next_cursor) if next_cursor else None,
        "first_url": filters.query() if cursor else None,
    }
    return render(request, "incidents/index.html", context)
