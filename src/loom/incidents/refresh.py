"""Recomputing what an incident shows from its alerts: counts, severity (max of its
alerts unless overridden), the services and grouping labels it holds, the ranked root
cause, the affected services, related changes, and the generated title.

Every change to an incident's alerts (grouping, resolution, merge, split, move) ends
with `refresh_incidents`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents.models import Incident
from loom.settings import IncidentSettings


async def refresh_incidents(
    session: AsyncSession,
    incidents: Sequence[Incident],
    *,
    settings: IncidentSettings,
    now: datetime,
) -> None:
    raise NotImplementedError  # written by the grouping work (session 6, in progress)
