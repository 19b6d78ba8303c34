"""The service page's status tabs: Versions (what runs where, drift, deployment history),
Health (the checks over time) and Scorecard (its readiness rules). Each is a `TabContext`
of `service_page.TABS`; the data comes from the registry's functions the API calls
(`version_matrix`, `deployments_query`, `service_health`, `service_scorecard`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from loom.api.pagination import PageParams, paginate
from loom.errors import Forbidden, NotFound
from loom.platform.runtime import Runtime
from loom.services import deployments, scorecard_service, versions
from loom.services.checks import stats
from loom.services.models import Service, ServiceDeployment
from loom.services.service import require_operator
from loom.web.timefmt import moment

if TYPE_CHECKING:
    from loom.auth.principal import Principal
    from loom.web.service_page import TabInput

#: Deployments per page of the history.
HISTORY_PAGE = 25


def runtime_of(tab: TabInput) -> Runtime:
    runtime: Runtime = tab.request.app.state.runtime
    return runtime


def drift_hours(runtime: Runtime) -> int:
    return runtime.settings.services.drift_threshold_hours


def is_operator(principal: Principal, found: Service) -> bool:
    """Whether to offer the operators' actions (record a deployment, run the checks): the
    check the registry makes when they post. Managed services still take both."""
    try:
        require_operator(principal, found.team_id)
    except (Forbidden, NotFound):
        return False
    return True


async def versions_tab(tab: TabInput) -> dict[str, Any]:
    found = tab.service
    flt = versions.VersionFilter(service_id=found.id)
    matrix = await versions.version_matrix(
        tab.session, tab.principal, flt, drift_hours(runtime_of(tab))
    )
    row = matrix.items[0] if matrix.items else None
    drift = row.drift if row else []
    current = [
        {"env": env, "deployed": (row.versions.get(env.slug) if row else None),
         "drift": [f for f in drift if f.environment == env.slug]}
        for env in matrix.environments
    ]  # fmt: skip
    params = tab.request.query_params
    known = {env.slug for env in matrix.environments}
    environment = params.get("environment") or ""
    environment = environment if environment in known else ""
    stmt, _svc, env_slugs = await deployments.deployments_query(
        tab.session, tab.principal, found.slug, environment or None
    )
    page = PageParams(limit=HISTORY_PAGE, cursor=params.get("cursor") or None)
    rows, cursor = await paginate(
        tab.session, stmt, [ServiceDeployment.deployed_at, ServiceDeployment.id], page
    )
    history = [
        {**deployments.deployment_out(r, found.slug, env_slugs[r.environment_id]).model_dump(),
         "when": moment(r.deployed_at)}
        for r in rows
    ]  # fmt: skip
    kept = {"environment": environment} if environment else {}
    return {
        "current": current,
        "drift": drift,
        "history": history,
        "history_environment": environment,
        "environments": matrix.environments,
        "history_next": f"?{urlencode({**kept, 'cursor': cursor})}" if cursor else None,
        "can_deploy": is_operator(tab.principal, found),
        "moment": moment,
    }


async def health_tab(tab: TabInput) -> dict[str, Any]:
    health = await stats.service_health(tab.session, tab.service)
    return {
        "health": health,
        "windows": list(stats.WINDOWS),
        "can_run": is_operator(tab.principal, tab.service),
        "moment": moment,
    }


async def scorecard_tab(tab: TabInput) -> dict[str, Any]:
    card = await scorecard_service.service_scorecard(
        tab.session, tab.principal, tab.service.slug, drift_hours=drift_hours(runtime_of(tab))
    )
    return {"card": card}
