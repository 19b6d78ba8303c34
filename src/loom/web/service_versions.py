"""The version matrix in the portal (`/ui/services/versions`): services by environments,
the version each runs, drifting cells marked with the finding, and the drift list below
(`/ui/services/drift` leads there).
The data is `versions.version_matrix`, the function behind `GET /services/versions`."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from starlette.responses import RedirectResponse, Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.services import versions
from loom.web.deps import PagePrincipal
from loom.web.routing import page_router
from loom.web.services import SERVICES, TIERS, service_path, team_names
from loom.web.templating import render
from loom.web.timefmt import moment

router = page_router()

VERSIONS = SERVICES + "/versions"
DRIFT = SERVICES + "/drift"
Text = Annotated[str, Query(max_length=200)]


@router.get(VERSIONS)
async def versions_page(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    team: Text = "",
    system: Text = "",
    tier: Text = "",
) -> Response:
    # An unknown tier filters nothing (as the service list does); an unknown team is the
    # registry's 4xx naming the field.
    tier = tier if tier in TIERS else ""
    flt = versions.VersionFilter(
        team=team.strip() or None, system=system.strip() or None, tier=int(tier) if tier else None
    )
    hours = runtime.settings.services.drift_threshold_hours
    async with session.begin():
        matrix = await versions.version_matrix(session, principal, flt, hours)
        teams = await team_names(session, principal)
    rows: list[dict[str, Any]] = []
    for item in matrix.items:
        owner = teams.get(item.team_id)
        cells = []
        for env in matrix.environments:
            found = [f for f in item.drift if f.environment == env.slug]
            cells.append({
                "env": env.slug, "deployed": item.versions.get(env.slug), "drift": found,
                "title": "; ".join(f.message for f in found),
            })  # fmt: skip
        rows.append({
            "slug": item.service, "name": item.name, "url": service_path(item.service),
            "team": owner.name if owner else "", "tier": item.tier, "cells": cells,
            "drift": item.drift,
        })  # fmt: skip
    kept = {"team": team.strip(), "system": system.strip(), "tier": tier}
    context = {
        "environments": matrix.environments,
        "rows": rows,
        "drift": [(row, f) for row in rows for f in row["drift"]],
        "teams": list(teams.values()),
        "tiers": TIERS,
        "filters": kept,
        "filtered": any(kept.values()),
        "api_url": f"/api/v1/services/versions?{urlencode({k: v for k, v in kept.items() if v})}",
        "moment": moment,
    }
    return render(request, "services/versions.html", context)


@router.get(DRIFT)
async def drift_page(_principal: PagePrincipal) -> Response:
    """The drift list is the matrix page's second half (as `/services/drift` is beside
    `/services/versions` in the API)."""
    return RedirectResponse(f"{VERSIONS}#drift", status_code=303)
