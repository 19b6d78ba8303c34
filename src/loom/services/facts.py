"""What scorecard rules look at: one dict of facts per service, built for many services
in a few queries.

Keys: slug, name, description, owner (team slug), lifecycle, tier, system, domain,
repositoryUrl, links, apiSpecUrl, openapi, tags, metadata (the free key/values),
operators (active members of the owning team with the operator role or above), health
("passing" | "degraded" | "failing" | "unknown", or None: no health check) and drift
(findings, [] when none are known). Health and drift come from their own domains, passed
in (see `fact_sources.py`), so this module depends on neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.models import Membership, Team, User
from loom.auth.roles import Role
from loom.services.models import Service

Facts = dict[str, Any]


async def service_facts(
    session: AsyncSession,
    services: Sequence[Service],
    *,
    health: Mapping[uuid.UUID, str],
    drift: Mapping[uuid.UUID, list[Any]],
) -> dict[uuid.UUID, Facts]:
    """Facts of each of `services` (of one organisation), by service id."""
    team_ids = {s.team_id for s in services}
    teams: dict[uuid.UUID, str] = {}
    operators: dict[uuid.UUID, int] = {}
    if team_ids:
        rows = await session.execute(select(Team.id, Team.slug).where(Team.id.in_(team_ids)))
        teams = {team_id: slug for team_id, slug in rows}
        counted = await session.execute(
            select(Membership.team_id, func.count())
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.team_id.in_(team_ids),
                Membership.role >= int(Role.OPERATOR),
                User.is_active.is_(True),
            )
            .group_by(Membership.team_id)
        )
        operators = {team_id: count for team_id, count in counted}
    return {
        s.id: {
            "slug": s.slug,
            "name": s.name,
            "description": s.description,
            "owner": teams.get(s.team_id),
            "lifecycle": s.lifecycle,
            "tier": s.tier,
            "system": s.system,
            "domain": s.domain,
            "repositoryUrl": s.repository_url,
            "links": list(s.links or []),
            "apiSpecUrl": s.api_spec_url,
            "openapi": s.openapi,
            "tags": list(s.tags or []),
            "metadata": dict(s.extra or {}),
            "operators": operators.get(s.team_id, 0),
            "health": health.get(s.id),
            "drift": list(drift.get(s.id, [])),
        }
        for s in services
    }
