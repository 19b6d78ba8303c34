"""Placeholder until the change-correlation work lands (branch inc-changes replaces this
file): no related changes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents.models import Incident
from loom.settings import IncidentSettings


async def correlate(
    session: AsyncSession, incident: Incident, *, settings: IncidentSettings, now: datetime
) -> dict[uuid.UUID, int]:
    return {}
