"""The operators' actions on a service's status tabs: record a deployment (Versions tab)
and run the health checks now (Health tab). Each form posts here and calls the function
the API calls (`deployments.deploy`, `run_now.run_checks`), so permissions (operator of
the owning team), validation and the audit entry are the same."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.errors import InvalidInput
from loom.services import deployment_schemas, deployments
from loom.services.checks import run_now
from loom.web.deps import CsrfChecked, PagePrincipal
from loom.web.routing import page_router
from loom.web.service_edit import _parse
from loom.web.service_page import render_tab, tab_named
from loom.web.services import SERVICES, service_path

router = page_router()

_DEPLOY_FIELDS = ("environment", "version", "commit_sha", "description")


def _deploy_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in _DEPLOY_FIELDS:
        value = form.get(name)
        values[name] = value.strip() if isinstance(value, str) else ""
    values["commit_sha"] = values["commit_sha"] or None
    return values


@router.post(SERVICES + "/{slug}/deployments", dependencies=[CsrfChecked])
async def record_deployment(
    request: Request, slug: str, principal: PagePrincipal, session: SessionDep
) -> Response:
    values = _deploy_values(await request.form())
    body, errors = _parse(deployment_schemas.DeploymentCreate, values)
    if body is not None:
        try:
            async with session.begin():
                await deployments.deploy(session, principal, slug, body)
        except InvalidInput as exc:
            if not exc.details:
                raise
            errors = {exc.details[0].field: exc.details[0].issue}
    if errors:
        extra = {"deploy_form": values, "deploy_errors": errors}
        return await render_tab(request, session, principal, slug, tab_named("versions"),
                                extra=extra, status_code=422)  # fmt: skip
    return RedirectResponse(f"{service_path(slug)}/versions?done=deployed", status_code=303)


@router.post(SERVICES + "/{slug}/checks/run", dependencies=[CsrfChecked])
async def run_checks(
    slug: str, principal: PagePrincipal, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await run_now.run_checks(session, principal, slug, runtime)
    return RedirectResponse(f"{service_path(slug)}/health?done=checks-run", status_code=303)
