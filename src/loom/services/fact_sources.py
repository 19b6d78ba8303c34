"""Where the scorecard's health and drift facts come from.

Both belong to other parts of the registry (endpoint health checks; deployments and
drift), built alongside the scorecards. Until the lead wires them at merge, each returns
{}: no service has a health check (so `healthChecksPassing` fails with "no health
check") and none has drift findings (so `noDrift` passes). Wiring means calling those
domains' functions here and nothing else: `facts.py` takes the two mappings as inputs.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def health_by_service(session: AsyncSession, org_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Service id -> "passing" | "degraded" | "failing" | "unknown" (its checks overall).
    The lead wires this to the health-check domain at merge."""
    return {}


async def drift_by_service(session: AsyncSession, org_id: uuid.UUID) -> dict[uuid.UUID, list[Any]]:
    """Service id -> its drift findings across environments (absent: none). The lead
    wires this to the deployments/drift domain at merge."""
    return {}
