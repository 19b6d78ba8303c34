"""The alert list: firing alerts first (the most recently seen first), then resolved ones
a page at a time, filtered by status, severity, service, silenced and incident, each
linked to its incident. The query is the incidents domain's (`queries.alerts_query`), so
the portal and `GET /alerts` list the same alerts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from loom.api.deps import SessionDep
from loom.api.pagination import PageParams, paginate
from loom.auth.principal import Principal
from loom.errors import InvalidInput, NotFound
from loom.incidents import queries, schemas, views
from loom.incidents.kinds import AlertStatus
from loom.incidents.models import Alert
from loom.web.deps import PagePrincipal
from loom.web.ops import ALERTS, SEVERITIES, incident_path, with_query
from loom.web.routing import page_router
from loom.web.services import service_path
from loom.web.templating import render
from loom.web.timefmt import moment

router = page_router()

PAGE_SIZE = 50
#: Firing alerts head the first page, this many at most (the page says when there are more).
FIRING_LIMIT = 200
STATUSES = {"all": "Firing and resolved", "firing": "Firing", "resolved": "Resolved"}
SILENCED = {"": "Silenced or not", "no": "Not silenced", "yes": "Silenced"}
Text = Annotated[str, Query(max_length=200)]


@dataclass(frozen=True)
class ListFilters:
    status: str = "all"
    severity: str = ""
    service: str = ""
    silenced: str = ""
    incident: str = ""

    @property
    def active(self) -> bool:
        return bool(self.severity or self.service or self.silenced or self.incident
                    or self.status != "all")  # fmt: skip

    def to_query(self, status: AlertStatus) -> queries.AlertFilter:
        return queries.AlertFilter(
            status=status.value,
            severity=self.severity or None,
            service=self.service or None,
            incident=self.incident or None,
            silenced={"yes": True, "no": False}.get(self.silenced),
        )

    def query(self, **changes: str) -> str:
        values = {"status": self.status, "severity": self.severity, "service": self.service,
                  "silenced": self.silenced, "incident": self.incident, **changes}  # fmt: skip
        if values["status"] == "all":
            values["status"] = ""
        return with_query(ALERTS, values)


def _filters(status: str, severity: str, service: str, silenced: str, incident: str) -> ListFilters:
    return ListFilters(
        status=status if status in STATUSES else "all",
        severity=severity if severity in SEVERITIES else "",
        service=service.strip(),
        silenced=silenced if silenced in SILENCED else "",
        incident=incident.strip(),
    )


def _row(a: schemas.Alert) -> dict[str, Any]:
    return {
        "id": str(a.id), "name": a.name, "summary": a.summary, "status": a.status.value,
        "severity": a.severity.value, "service": a.service,
        "service_url": service_path(a.service) if a.service else None,
        "environment": a.environment, "source": a.source, "count": a.count,
        "silenced": a.silenced, "first": moment(a.first_seen), "last": moment(a.last_seen),
        "incident": f"INC-{a.incident_number}" if a.incident_number else None,
        "incident_url": incident_path(a.incident_number) if a.incident_number else None,
        "generator_url": a.generator_url,
    }  # fmt: skip


async def _firing(
    session: AsyncSession, principal: Principal, filters: ListFilters
) -> tuple[list[dict[str, Any]], bool]:
    stmt = await queries.alerts_query(session, principal, filters.to_query(AlertStatus.FIRING))
    stmt = stmt.order_by(Alert.last_seen.desc(), Alert.id.desc()).limit(FIRING_LIMIT + 1)
    rows = list(await session.scalars(stmt))
    shown = await views.alerts_out(session, rows[:FIRING_LIMIT])
    return [_row(a) for a in shown], len(rows) > FIRING_LIMIT


async def _resolved(
    session: AsyncSession, principal: Principal, filters: ListFilters, page: PageParams
) -> tuple[list[dict[str, Any]], str | None]:
    stmt = await queries.alerts_query(session, principal, filters.to_query(AlertStatus.RESOLVED))
    rows, next_cursor = await paginate(session, stmt, [Alert.last_seen, Alert.id], page)
    return [_row(a) for a in await views.alerts_out(session, rows)], next_cursor


@router.get(ALERTS)
async def alerts_page(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    status: Text = "all",
    severity: Text = "",
    service: Text = "",
    silenced: Text = "",
    incident: Text = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    filters = _filters(status, severity, service, silenced, incident)
    page = PageParams(limit=PAGE_SIZE, cursor=cursor or None)
    firing: list[dict[str, Any]] = []
    resolved: list[dict[str, Any]] = []
    more_firing, next_cursor, problem = False, None, None
    show_firing = filters.status != "resolved" and not cursor
    try:
        async with session.begin():
            if show_firing:
                firing, more_firing = await _firing(session, principal, filters)
            if filters.status != "firing":
                resolved, next_cursor = await _resolved(session, principal, filters, page)
    except (InvalidInput, NotFound) as exc:  # an unknown service or incident
        problem = exc.message
    context = {
        "filters": filters,
        "statuses": STATUSES,
        "severities": SEVERITIES,
        "silenced_choices": SILENCED,
        "problem": problem,
        "firing": firing,
        "more_firing": more_firing,
        "firing_limit": FIRING_LIMIT,
        "resolved": resolved,
        "show_firing": show_firing,
        "show_resolved": filters.status != "firing",
        "next_url": filters.query(cursor=next_cursor) if next_cursor else None,
        "first_url": filters.query() if cursor else None,
    }
    return render(request, "incidents/alerts.html", context)
