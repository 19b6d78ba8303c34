"""The readiness report in the portal (`/ui/scorecards`): per service its level, score,
go/no-go for each environment (or the one chosen) and failing rules, with a link to the
service's Scorecard tab. The data is `scorecard_service.report`, the function behind
`GET /scorecards/report`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.services import scorecard_service
from loom.web.deps import PagePrincipal
from loom.web.routing import page_router
from loom.web.services import service_path
from loom.web.templating import render

router = page_router()

SCORECARDS = "/ui/scorecards"


@router.get(SCORECARDS)
async def scorecards_page(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    environment: Annotated[str, Query(max_length=63)] = "",
) -> Response:
    required = runtime.settings.scorecards.required_levels
    # An environment the settings do not name shows every one rather than an error page.
    chosen = environment if environment in required else ""
    async with session.begin():
        report = await scorecard_service.report(
            session, principal, required, environment=chosen or None,
            drift_hours=runtime.settings.services.drift_threshold_hours,
        )  # fmt: skip
    context = {
        "report": report,
        "environments": list(required),
        "environment": chosen,
        "urls": {item.service: service_path(item.service) + "/scorecard" for item in report.items},
    }
    return render(request, "scorecards.html", context)
