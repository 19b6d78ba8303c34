"""Where the scorecard's health and drift facts come from: the endpoint health checks
and the deployments' drift rules. `facts.py` takes both as plain mappings, so it
depends on neither domain; this module is the one place that joins them."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from loom.services import versions
from loom.services.checks import stats
from loom.services.drift import Finding


async def health_by_service(session: AsyncSession, org_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Service id -> "passing" | "degraded" | "failing" | "unknown" (its enabled checks
    overall); a service without checks is absent."""
    return await stats.health_by_service(session, org_id)


async def drift_by_service(
    session: AsyncSession, org_id: uuid.UUID, default_hours: int
) -> dict[uuid.UUID, list[Finding]]:
    """Service id -> its drift findings across environments (absent: none)."""
    return await versions.drifting_services(session, org_id, default_hours=default_hours)
