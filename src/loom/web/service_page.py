"""A service's page in the portal: one tab per aspect of the service, each a real page
(`/ui/services/{slug}` is the overview, `/ui/services/{slug}/{tab}` the others), so
they work without JavaScript and can be linked to.

Tabs are data: `TABS` lists them in order, each with the template it renders and an
async function giving that template its context. Another aspect (versions, health,
scorecard) is one more `ServiceTab` appended to the list, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from loom.api.deps import SessionDep
from loom.auth.principal import Principal
from loom.errors import Forbidden, NotFound
from loom.services import graph, service
from loom.services.kinds import Criticality, DependencyKind
from loom.services.models import Service, ServiceDependency
from loom.web import service_graph, service_status
from loom.web.deps import PagePrincipal
from loom.web.routing import page_router
from loom.web.services import SERVICES, service_path, team_names
from loom.web.templating import render
from loom.web.timefmt import moment

router = page_router()

#: Dependencies shown per direction on the dependencies tab (the API pages through more).
DEPENDENCY_LIMIT = 500
#: What an edit that went through says on the page it returns to (`?done=`).
DONE = {
    "updated": "Saved.",
    "dependency-added": "Dependency added.",
    "dependency-removed": "Dependency removed.",
    "deployed": "Deployment recorded.",
    "checks-run": "Checks run: the results below are fresh.",
}


@dataclass(frozen=True)
class TabInput:
    request: Request
    session: AsyncSession
    principal: Principal
    service: Service


TabContext = Callable[[TabInput], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ServiceTab:
    slug: str
    label: str
    template: str
    context: TabContext

    def path(self, service_slug: str) -> str:
        base = service_path(service_slug)
        return base if self.slug == "overview" else f"{base}/{self.slug}"


def can_edit(principal: Principal, found: Service) -> bool:
    """Whether to offer edit actions: the same checks the registry makes when they post."""
    if found.managed:
        return False
    try:
        service.require_operator(principal, found.team_id)
    except (Forbidden, NotFound):
        return False
    return True


# --- the tabs -------------------------------------------------------------------------


async def _overview(tab: TabInput) -> dict[str, Any]:
    found = tab.service
    return {
        "links": found.links,
        "tags": list(found.tags),
        "metadata": sorted(found.extra.items()),
        "openapi": json.dumps(found.openapi, indent=2) if found.openapi else None,
        "created": moment(found.created_at),
        "updated": moment(found.updated_at),
    }


async def _dependencies(tab: TabInput) -> dict[str, Any]:
    lists: dict[str, list[dict[str, Any]]] = {}
    for direction in ("down", "up"):
        stmt = service.dependencies_query(tab.service, direction)
        stmt = stmt.order_by(ServiceDependency.created_at, ServiceDependency.id)
        rows = list(await tab.session.scalars(stmt.limit(DEPENDENCY_LIMIT)))
        items = await service.describe_dependencies(tab.session, rows)
        for item in items:
            item["target_url"] = service_path(item["target"]) if item["target"] else None
            item["service_url"] = service_path(item["service"])
        lists[direction] = sorted(items, key=lambda i: (i["target"] or i["target_resource"],
                                                          i["service"]))  # fmt: skip
    return {
        "calls": lists["down"],
        "called_by": lists["up"],
        "limit": DEPENDENCY_LIMIT,
        "kinds": [k.value for k in DependencyKind],
        "criticalities": [c.value for c in Criticality],
    }


async def _graph(tab: TabInput) -> dict[str, Any]:
    params = tab.request.query_params
    depth = service_graph.depth_of(params.get("depth"))
    direction = service_graph.direction_of(params.get("direction"))
    slug = tab.service.slug
    found = await graph.neighbourhood(tab.session, tab.principal, slug, depth, direction)
    api_url = service_graph.neighbourhood_api(slug)
    return {
        "graph": service_graph.panel(found, api_url, focus=slug),
        "controls": {
            "depth": depth,
            "direction": direction,
            "depths": service_graph.DEPTHS,
            "directions": service_graph.DIRECTION_LABELS,
        },
    }


TABS: list[ServiceTab] = [
    ServiceTab("overview", "Overview", "services/_overview.html", _overview),
    ServiceTab("dependencies", "Dependencies", "services/_dependencies.html", _dependencies),
    ServiceTab("graph", "Graph", "services/_graph_tab.html", _graph),
    ServiceTab("versions", "Versions", "services/_versions.html", service_status.versions_tab),
    ServiceTab("health", "Health", "services/_health.html", service_status.health_tab),
    ServiceTab("scorecard", "Scorecard", "services/_scorecard.html", service_status.scorecard_tab),
]


def tab_named(slug: str) -> ServiceTab:
    for tab in TABS:
        if tab.slug == slug:
            return tab
    raise NotFound(f"no tab '{slug}'")


# --- the page -------------------------------------------------------------------------


async def render_tab(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    slug: str,
    tab: ServiceTab,
    *,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The service page showing `tab` (`extra`: a form's values and errors, after a post)."""
    async with session.begin():
        found = await service.get_service(session, principal, slug)
        teams = await team_names(session, principal)
        context = await tab.context(TabInput(request, session, principal, found))
    owner = teams.get(found.team_id)
    page = {
        "service": found,
        "owner": owner,
        "owner_url": f"{SERVICES}?team={owner.slug}" if owner else None,
        "tabs": [{"slug": t.slug, "label": t.label, "url": t.path(found.slug)} for t in TABS],
        "tab": tab.slug,
        "tab_template": tab.template,
        "can_edit": can_edit(principal, found),
        "base_url": service_path(found.slug),
        "notice": DONE.get(request.query_params.get("done", "")),
        **context,
        **(extra or {}),
    }
    return render(request, "services/page.html", page, status_code=status_code)


@router.get(SERVICES + "/{slug}")
async def service_page(
    request: Request, slug: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    return await render_tab(request, session, principal, slug, TABS[0])


@router.get(SERVICES + "/{slug}/{tab}")
async def service_tab(
    request: Request, slug: str, tab: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    return await render_tab(request, session, principal, slug, tab_named(tab))
