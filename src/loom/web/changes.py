"""The change list (deployments, config, scaling, feature-flag and infrastructure changes,
newest first, filtered by service, type and environment) and the change frequency per
service over the last 7 and 30 days. The data is the incidents domain's, as the API's:
`queries.changes_query` (`GET /changes`) and `changes.frequency` (`GET /changes/frequency`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from loom.api.deps import SessionDep
from loom.api.pagination import PageParams, paginate
from loom.auth.principal import Principal
from loom.db.types import utcnow
from loom.errors import InvalidInput
from loom.incidents import changes, queries, schemas, views
from loom.incidents.change_schemas import ChangeCreate, ChangeFrequency
from loom.incidents.kinds import ChangeSource, ChangeType
from loom.incidents.models import Change
from loom.incidents.responders import may_act
from loom.web.deps import CsrfChecked, PagePrincipal
from loom.web.ops import CHANGES, with_query
from loom.web.routing import page_router
from loom.web.services import service_path
from loom.web.templating import render
from loom.web.timefmt import moment

router = page_router()

PAGE_SIZE = 50
TYPES = tuple(t.value for t in ChangeType)
Text = Annotated[str, Query(max_length=200)]


@dataclass(frozen=True)
class ListFilters:
    service: str = ""
    type: str = ""
    environment: str = ""

    @property
    def active(self) -> bool:
        return bool(self.service or self.type or self.environment)

    def to_query(self) -> queries.ChangeFilter:
        return queries.ChangeFilter(service=self.service or None, type=self.type or None,
                                    environment=self.environment or None)  # fmt: skip

    def query(self, **changes: str) -> str:
        values = {"service": self.service, "type": self.type, "environment": self.environment,
                  **changes}  # fmt: skip
        return with_query(CHANGES, values)


def _row(c: schemas.Change) -> dict[str, Any]:
    return {
        "id": str(c.id), "type": c.type.value, "source": c.source.value, "title": c.title,
        "service": c.service, "service_url": service_path(c.service) if c.service else None,
        "environment": c.environment, "version": c.version,
        "previous_version": c.previous_version, "author": c.author,
        "when": moment(c.happened_at), "url": c.url,
    }  # fmt: skip


def _frequency(counts: list[ChangeFrequency], filters: ListFilters) -> list[dict[str, Any]]:
    top = max((c.last_30_days for c in counts), default=0)
    return [
        {
            "service": c.service,
            "url": filters.query(service=c.service) if c.service else None,
            "week": c.last_7_days,
            "month": c.last_30_days,
            "max": top,
        }
        for c in counts
    ]


@router.get(CHANGES)
async def changes_page(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    service: Text = "",
    type: Text = "",
    environment: Text = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    done: Text = "",
) -> Response:
    filters = ListFilters(service=service.strip(), type=type if type in TYPES else "",
                          environment=environment.strip())  # fmt: skip
    return await _render(request, principal, session, filters, cursor, {"done": bool(done)})


#: The form's fields, as `ChangeCreate` names them.
FORM_FIELDS = ("type", "service", "environment", "version", "previous_version", "title", "url")


@router.post(CHANGES, dependencies=[CsrfChecked])
async def record_change(
    request: Request, principal: PagePrincipal, session: SessionDep
) -> Response:
    """A person records a change by hand (source `manual`), as `POST /api/v1/changes`
    does; a refusal comes back as the page with the message and what was typed."""
    form = await request.form()
    typed = {name: str(form.get(name) or "").strip() for name in FORM_FIELDS}
    try:
        data = ChangeCreate(**{k: v for k, v in typed.items() if v})
        async with session.begin():
            await changes.record_change(
                session, principal, principal.org_id, data, source=ChangeSource.MANUAL,
                now=utcnow(), settings=request.app.state.runtime.settings.incidents,
            )  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        problem = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    except InvalidInput as exc:
        issue = exc.details[0] if exc.details else None
        problem = f"{issue.field}: {issue.issue}" if issue else exc.message
    else:
        return RedirectResponse(f"{CHANGES}?done=recorded", status_code=303)
    extra = {"record_error": problem, "typed": typed}
    return await _render(request, principal, session, ListFilters(), None, extra, 400)


async def _render(
    request: Request, principal: Principal, session: AsyncSession, filters: ListFilters,
    cursor: str | None, extra: dict[str, Any], status_code: int = 200,
) -> Response:  # fmt: skip
    page = PageParams(limit=PAGE_SIZE, cursor=cursor or None)
    rows: list[schemas.Change] = []
    next_cursor, problem = None, None
    async with session.begin():
        counts = (await changes.frequency(session, principal, now=utcnow())).items
        try:
            stmt = await queries.changes_query(session, principal, filters.to_query())
            found, next_cursor = await paginate(
                session, stmt, [Change.happened_at, Change.id], page
            )
            rows = await views.changes_out(session, found)
        except InvalidInput as exc:  # an unknown service, or a cursor from elsewhere
            problem = exc.message
    context = {
        "filters": filters,
        "types": TYPES,
        "problem": problem,
        "rows": [_row(c) for c in rows],
        "frequency": _frequency(counts, filters),
        "next_url": filters.query(cursor=next_cursor) if next_cursor else None,
        "first_url": filters.query() if cursor else None,
        "can_record": may_act(principal),
        "typed": {},
        "record_error": None,
        "done": False,
        **extra,
    }
    return render(request, "incidents/changes.html", context, status_code=status_code)
