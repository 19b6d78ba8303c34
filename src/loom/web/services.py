"""The service list in the portal: the organisation's services, filtered by team, tier,
lifecycle, tag, text and health, a page at a time by cursor. The query is the registry's
(`services_query`), so the portal and the API list exactly the same services; health is
the checks' (`health_by_service`: one query for the organisation)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Query, Request
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from loom.api.deps import SessionDep
from loom.api.pagination import PageParams, paginate
from loom.auth.models import Team
from loom.auth.principal import Principal
from loom.services import service
from loom.services.checks.schemas import CheckStatus
from loom.services.checks.stats import health_by_service
from loom.services.kinds import Lifecycle
from loom.services.models import Service
from loom.web.deps import PagePrincipal
from loom.web.routing import page_router
from loom.web.templating import render

router = page_router()

SERVICES = "/ui/services"
SYSTEM_GRAPH = "/ui/services/graph"
PAGE_SIZE = 25
TIERS = ("1", "2", "3")
LIFECYCLES = tuple(lc.value for lc in Lifecycle)
HEALTH = ("passing", "degraded", "failing", "unknown")
Text = Annotated[str, Query(max_length=200)]


def service_path(slug: str) -> str:
    return f"{SERVICES}/{quote(slug, safe='')}"


@dataclass(frozen=True)
class ListFilters:
    team: str = ""
    tier: str = ""
    lifecycle: str = ""
    tag: str = ""
    q: str = ""
    health: str = ""

    @property
    def active(self) -> bool:
        return any((self.team, self.tier, self.lifecycle, self.tag, self.q, self.health))

    def to_service(self) -> service.ServiceFilter:
        return service.ServiceFilter(
            team=self.team or None,
            tier=int(self.tier) if self.tier else None,
            lifecycle=self.lifecycle or None,
            tag=self.tag or None,
            q=self.q or None,
        )

    def query(self, **changes: str) -> str:
        """This page's URL with these filters (and `changes`)."""
        values = {"team": self.team, "tier": self.tier, "lifecycle": self.lifecycle,
                  "tag": self.tag, "q": self.q, "health": self.health, **changes}  # fmt: skip
        kept = {k: v for k, v in values.items() if v}
        return f"{SERVICES}?{urlencode(kept)}" if kept else SERVICES


def _filters(team: str, tier: str, lifecycle: str, tag: str, q: str, health: str) -> ListFilters:
    # An unknown tier, lifecycle or health filters nothing rather than failing the page
    # (as the requests list does); an unknown team is the registry's 4xx naming the field.
    return ListFilters(
        team=team.strip(),
        tier=tier if tier in TIERS else "",
        lifecycle=lifecycle if lifecycle in LIFECYCLES else "",
        tag=tag.strip(),
        q=q.strip(),
        health=health if health in HEALTH else "",
    )


def with_health(stmt: Select[Any], health: dict[uuid.UUID, str], wanted: str) -> Select[Any]:
    """Only the services whose overall health is `wanted` ("unknown": no enabled check,
    or none has run yet)."""
    if not wanted:
        return stmt
    if wanted == CheckStatus.UNKNOWN:
        known = [sid for sid, status in health.items() if status != CheckStatus.UNKNOWN]
        return stmt.where(Service.id.not_in(known)) if known else stmt
    return stmt.where(Service.id.in_([sid for sid, status in health.items() if status == wanted]))


async def team_names(session: AsyncSession, principal: Principal) -> dict[uuid.UUID, Team]:
    """Every team of the organisation: the registry is readable org-wide, so a service's
    owner is shown whoever owns it."""
    rows = await session.scalars(
        select(Team).where(Team.org_id == principal.org_id).order_by(Team.slug)
    )
    return {team.id: team for team in rows}


def _row(found: Service, teams: dict[uuid.UUID, Team]) -> dict[str, Any]:
    owner = teams.get(found.team_id)
    return {
        "slug": found.slug,
        "url": service_path(found.slug),
        "name": found.name,
        "description": found.description,
        "team": owner.name if owner else "",
        "team_slug": owner.slug if owner else "",
        "tier": found.tier,
        "lifecycle": found.lifecycle,
        "system": found.system,
        "tags": list(found.tags),
        "managed": found.managed,
    }


@router.get(SERVICES)
async def services_page(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    team: Text = "",
    tier: Text = "",
    lifecycle: Text = "",
    tag: Text = "",
    q: Text = "",
    health: Text = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    filters = _filters(team, tier, lifecycle, tag, q, health)
    page = PageParams(limit=PAGE_SIZE, cursor=cursor or None)
    async with session.begin():
        statuses = await health_by_service(session, principal.org_id)
        stmt = await service.services_query(session, principal, filters.to_service())
        stmt = with_health(stmt, statuses, filters.health)
        rows, next_cursor = await paginate(
            session, stmt, [Service.slug, Service.id], page, descending=False
        )
        teams = await team_names(session, principal)
    context = {
        "filters": filters,
        "rows": [_row(r, teams) for r in rows],
        "teams": list(teams.values()),
        "tiers": TIERS,
        "lifecycles": LIFECYCLES,
        "health_states": HEALTH,
        "health": {r.slug: statuses.get(r.id, CheckStatus.UNKNOWN.value) for r in rows},
        "graph_url": SYSTEM_GRAPH,
        "next_url": filters.query(cursor=next_cursor) if next_cursor else None,
        "first_url": filters.query() if cursor else None,
    }
    return render(request, "services/index.html", context)
