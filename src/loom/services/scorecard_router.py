"""Scorecard endpoints: the rules, one service's scorecard, and the readiness report.
Rules come from the catalog repository (`scorecards/`), so there is nothing to write here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate
from loom.services import scorecard_schemas as schemas
from loom.services import scorecard_service as scorecards
from loom.services.scorecard_models import ScorecardRule

router = APIRouter(tags=["scorecards"])


@router.get("/scorecards", responses={200: {"model": Page[schemas.ScorecardRule]}})
async def list_rules(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep
) -> dict[str, Any]:
    """The organisation's scorecard rules, by id."""
    async with session.begin():
        rows, cursor = await paginate(
            session, scorecards.rules_list(principal), [ScorecardRule.rule_id, ScorecardRule.id],
            page, descending=False,
        )  # fmt: skip
        items = [scorecards.rule_out(r) for r in rows]
    return page_body(items, cursor, page)


@router.get("/scorecards/report", response_model=schemas.Report)
async def report(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    session: SessionDep,
    environment: Annotated[
        str | None, Query(description="Judge against the level this environment requires")
    ] = None,
    team: Annotated[str | None, Query(description="Owning team, by slug or id")] = None,
    level: Annotated[
        str | None, Query(description="Achieved level: bronze, silver, gold or none")
    ] = None,
) -> schemas.Report:
    """Every service's level, score, failing rules and go/no-go per environment."""
    required = runtime.settings.scorecards.required_levels
    async with session.begin():
        return await scorecards.report(
            session, principal, required, environment=environment, team=team, level=level,
            drift_hours=runtime.settings.services.drift_threshold_hours,
        )  # fmt: skip


@router.get("/services/{slug}/scorecard", response_model=schemas.ServiceScorecard)
async def service_scorecard(
    slug: str, runtime: RuntimeDep, principal: CurrentPrincipal, session: SessionDep
) -> schemas.ServiceScorecard:
    """The service's level, score, and each applicable rule passed or failed."""
    hours = runtime.settings.services.drift_threshold_hours
    async with session.begin():
        return await scorecards.service_scorecard(session, principal, slug, drift_hours=hours)
