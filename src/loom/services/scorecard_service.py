"""Scorecards of services: one service's, or a readiness report over the organisation.
Evaluated in bulk (the rules, the services, their facts: a few queries in all). No HTTP
here; the caller owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.principal import Principal
from loom.errors import InvalidInput
from loom.services import fact_sources
from loom.services import scorecard_schemas as out
from loom.services.facts import Facts, service_facts
from loom.services.models import Service
from loom.services.scorecard_models import ScorecardRule
from loom.services.scorecard_rules import LEVELS, Level, ScorecardRuleDocument
from loom.services.scorecard_store import rules_of, rules_query
from loom.services.scorecards import Scorecard, meets, scorecard
from loom.services.service import ServiceFilter, get_service, services_query
from loom.services.versions import DEFAULT_THRESHOLD_HOURS


def rules_list(principal: Principal) -> Select[Any]:
    """The caller's organisation's rules (for the pagination helper)."""
    return rules_query(principal.org_id)


def rule_out(row: ScorecardRule) -> out.ScorecardRule:
    meta, spec = row.definition.get("metadata", {}), row.definition.get("spec", {})
    return out.ScorecardRule(
        id=row.rule_id, title=row.title, description=meta.get("description", ""),
        level=Level(row.level), message=spec.get("message", ""),
        applies_to=spec.get("appliesTo", {}), check=spec.get("check", {}),
        source_file=row.source_file, stale=row.stale,
    )  # fmt: skip


async def _facts(
    session: AsyncSession, principal: Principal, services: Sequence[Service], drift_hours: int
) -> dict[uuid.UUID, Facts]:
    org_id = principal.org_id
    health = await fact_sources.health_by_service(session, org_id)
    drift = await fact_sources.drift_by_service(session, org_id, drift_hours)
    return await service_facts(session, services, health=health, drift=drift)


def _results(card: Scorecard, failing_only: bool = False) -> list[out.RuleResult]:
    rules = card.failing if failing_only else card.rules
    return [out.RuleResult(**asdict(r)) for r in rules]


async def service_scorecard(
    session: AsyncSession,
    principal: Principal,
    slug: str,
    *,
    drift_hours: int = DEFAULT_THRESHOLD_HOURS,
) -> out.ServiceScorecard:
    """`drift_hours`: the drift threshold of environments that set none of their own."""
    service = await get_service(session, principal, slug)
    rules = await rules_of(session, principal.org_id)
    facts = await _facts(session, principal, [service], drift_hours)
    card = scorecard(rules, facts[service.id])
    return out.ServiceScorecard(
        service=slug, level=card.level, score=card.score, rules=_results(card)
    )


async def report(
    session: AsyncSession,
    principal: Principal,
    required_levels: Mapping[str, str],
    *,
    environment: str | None = None,
    team: str | None = None,
    level: str | None = None,
    drift_hours: int = DEFAULT_THRESHOLD_HOURS,
) -> out.Report:
    """Every service (of `team`, at achieved `level`: bronze|silver|gold|none) with its
    level, score, failing rules and go/no-go for each environment (or just `environment`)."""
    required = {env: Level(lv) for env, lv in required_levels.items()}
    if environment is not None:
        if environment not in required:
            known = ", ".join(required) or "none configured"
            raise InvalidInput.on("environment", f"unknown environment (known: {known})")
        required = {environment: required[environment]}
    if level is not None and level not in {*LEVELS, "none"}:
        raise InvalidInput.on("level", "one of bronze, silver, gold, none")
    stmt = await services_query(session, principal, ServiceFilter(team=team))
    services = list((await session.scalars(stmt.order_by(Service.slug))).all())
    rules: list[ScorecardRuleDocument] = await rules_of(session, principal.org_id)
    facts = await _facts(session, principal, services, drift_hours)
    items: list[out.ReportItem] = []
    for service in services:
        card = scorecard(rules, facts[service.id])
        if level is not None and (card.level or "none") != level:
            continue
        items.append(
            out.ReportItem(
                service=service.slug, name=service.name, team=facts[service.id]["owner"],
                level=card.level, score=card.score, failing=_results(card, failing_only=True),
                go={env: meets(card.level, need) for env, need in required.items()},
            )
        )  # fmt: skip
    summary = {"services": len(items)}
    for env in required:
        summary[f"go:{env}"] = sum(i.go[env] for i in items)
    return out.Report(
        environment=environment, required_levels=required, summary=summary, items=items
    )
