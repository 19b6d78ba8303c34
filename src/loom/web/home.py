"""The home page: a greeting, the user's teams and the health of this Loom (the health
panel refreshes itself through htmx)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from loom import __version__
from loom.api.deps import RuntimeDep, SessionDep
from loom.auth import service as auth_service
from loom.platform.health import readiness
from loom.platform.runtime import Runtime
from loom.web.deps import PagePrincipal
from loom.web.redirects import HOME
from loom.web.routing import page_router
from loom.web.templating import render

router = page_router()

#: Seconds between refreshes of the health panel.
HEALTH_REFRESH_SECONDS = 10


@router.get("/")
async def root() -> Response:
    return RedirectResponse(HOME, status_code=307)


async def _health(runtime: Runtime) -> dict[str, object]:
    checks = await readiness(runtime)
    return {
        "checks": checks,
        "healthy": all(c.ok for c in checks),
        "database": runtime.engine.dialect.name,
        "refresh_seconds": HEALTH_REFRESH_SECONDS,
    }


@router.get(HOME)
async def home(
    request: Request, principal: PagePrincipal, session: SessionDep, runtime: RuntimeDep
) -> Response:
    async with session.begin():
        teams = await auth_service.list_teams(session, principal)
    return render(
        request,
        "home.html",
        {"teams": teams, "version": __version__, **await _health(runtime)},
    )


@router.get("/ui/fragments/health")
async def health_fragment(
    request: Request, _principal: PagePrincipal, runtime: RuntimeDep
) -> Response:
    return render(request, "_health.html", await _health(runtime))
