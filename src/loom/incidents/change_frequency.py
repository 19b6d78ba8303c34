"""How often each service changes: the number of changes per service over the last 7 and
the last 30 days, counted in one grouped query (the portal's changes page shows it; a
service that changes a lot is where incidents are likely to start)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents.models import Change
from loom.services.models import Service

SHORT = timedelta(days=7)
LONG = timedelta(days=30)


@dataclass(frozen=True)
class ServiceChanges:
    service: str | None  # None: changes that name no registered service
    last_7_days: int
    last_30_days: int


async def change_frequency(
    session: AsyncSession, org_id: uuid.UUID, now: datetime, *, limit: int = 50
) -> list[ServiceChanges]:
    """The services changed in the last 30 days, most changed first (then by slug)."""
    recent = case((Change.happened_at >= now - SHORT, 1), else_=0)
    week = func.sum(recent).label("week")
    month = func.count(Change.id).label("month")
    stmt = (
        select(Service.slug, week, month)
        .select_from(Change)
        .outerjoin(Service, Service.id == Change.service_id)
        .where(Change.org_id == org_id, Change.happened_at >= now - LONG, Change.happened_at <= now)
        .group_by(Service.slug)
        .order_by(month.desc(), week.desc(), Service.slug)
        .limit(limit)
    )
    rows = await session.execute(stmt)
    return [ServiceChanges(slug, int(w or 0), int(m)) for slug, w, m in rows]
