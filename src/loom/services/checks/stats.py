"""What health checks say over time: availability and latency percentiles per check over
24 h / 7 d / 30 d, a service's overall health, and every service's health at once (for
scorecards and the portal's service list).

Percentiles are computed in Python (nearest rank) from the durations of each window:
portable across SQLite and PostgreSQL, and a check's 30 days are at most 260,000 small
rows (one run every 10 s), read in one query per check.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.db.types import utcnow
from loom.services.check_models import ServiceCheck, ServiceCheckResult
from loom.services.checks import schemas, status
from loom.services.checks.schemas import CheckStatus
from loom.services.models import Service

WINDOWS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


def percentile(sorted_values: Sequence[int], fraction: float) -> int | None:
    """Nearest-rank percentile of values sorted ascending (None when there are none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def window(samples: list[tuple[datetime, int, bool]], since: datetime) -> schemas.Window:
    """Availability and latency of the runs (started_at, duration_ms, ok) since `since`."""
    inside = [(duration, ok) for started, duration, ok in samples if started >= since]
    if not inside:
        return schemas.Window(availability=None, p50_ms=None, p95_ms=None, samples=0)
    durations = sorted(duration for duration, _ok in inside)
    up = sum(1 for _duration, ok in inside if ok)
    return schemas.Window(
        availability=round(100.0 * up / len(inside), 3),
        p50_ms=percentile(durations, 0.50),
        p95_ms=percentile(durations, 0.95),
        samples=len(inside),
    )


async def check_windows(
    session: AsyncSession, check_id: uuid.UUID, now: datetime
) -> dict[str, schemas.Window]:
    oldest = now - max(WINDOWS.values())
    rows = await session.execute(
        select(
            ServiceCheckResult.started_at, ServiceCheckResult.duration_ms, ServiceCheckResult.ok
        ).where(ServiceCheckResult.check_id == check_id, ServiceCheckResult.started_at >= oldest)
    )
    samples = [(started, duration, ok) for started, duration, ok in rows]
    return {name: window(samples, now - length) for name, length in WINDOWS.items()}


async def service_health(
    session: AsyncSession, service: Service, *, now: datetime | None = None
) -> schemas.Health:
    """Every check of `service` with its windows, and the worst status of the enabled ones."""
    moment = now or utcnow()
    checks = (
        await session.scalars(
            select(ServiceCheck)
            .where(ServiceCheck.org_id == service.org_id, ServiceCheck.service_id == service.id)
            .order_by(ServiceCheck.name)
        )
    ).all()
    out = [
        schemas.CheckHealth(
            id=check.id,
            name=check.name,
            url=check.url,
            status=check.status,  # type: ignore[arg-type]
            status_since=check.status_since,
            last_result=check.last_result,  # type: ignore[arg-type]
            windows=await check_windows(session, check.id, moment),
        )
        for check in checks
    ]
    overall = status.worst([CheckStatus(c.status) for c in checks if c.enabled])
    return schemas.Health(status=overall, checks=out)


#: Beyond this many services, reading the whole organisation's checks is the cheaper query.
_FEW_SERVICES = 1000


async def health_by_service(
    session: AsyncSession, org_id: uuid.UUID, among: Collection[uuid.UUID] | None = None
) -> dict[uuid.UUID, str]:
    """Each service of the organisation (or of `among`) that has enabled checks → its
    overall status (the worst of them): "passing", "degraded", "failing" or "unknown"."""
    stmt = select(ServiceCheck.service_id, ServiceCheck.status).where(
        ServiceCheck.org_id == org_id, ServiceCheck.enabled.is_(True)
    )
    if among is not None and len(among) <= _FEW_SERVICES:
        stmt = stmt.where(ServiceCheck.service_id.in_(list(among)))
    rows = await session.execute(stmt)
    found: dict[uuid.UUID, list[CheckStatus]] = {}
    for service_id, check_status in rows:
        found.setdefault(service_id, []).append(CheckStatus(check_status))
    return {service_id: status.worst(each).value for service_id, each in found.items()}
