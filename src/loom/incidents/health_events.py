"""Health-check status changes of the service registry, as alerts.

The endpoint checks write a `health_check.status_changed` service event (an outbox row)
when a check's status moves. A periodic job turns the unconsumed ones into health-check
alerts (`health:<service>:<check>`: failing is critical, degraded a warning, passing
resolves it) through the same `alerts.ingest` as posted alerts, and marks them consumed,
in one transaction per organisation batch.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loom.db.types import utcnow
from loom.incidents import alerts, normalize
from loom.incidents.kinds import AlertSourceKind
from loom.platform.runtime import Runtime
from loom.platform.scheduler import periodic
from loom.services.check_models import ServiceEvent
from loom.services.checks.runner import STATUS_CHANGED
from loom.services.models import Service
from loom.settings import IncidentSettings

log = structlog.get_logger("loom.incidents.health")
TICK = timedelta(seconds=5)
BATCH = 500


def event_alert(event: ServiceEvent, slug: str, now: datetime) -> normalize.AlertIn | None:
    """The alert of one status change; None when the new status says nothing (unknown)."""
    data = event.data or {}
    result = data.get("result") if isinstance(data.get("result"), dict) else {}
    raw = {
        "service": slug, "check": data.get("check"), "status": data.get("to"),
        "previous": data.get("from"), "at": event.created_at.isoformat(),
        "message": (result or {}).get("message") or None,
    }  # fmt: skip
    try:
        return normalize.health_check_event(raw, now=now)
    except normalize.BadItem:
        return None


async def consume_org(
    session: AsyncSession,
    org_id: uuid.UUID,
    settings: IncidentSettings,
    now: datetime,
    limit: int = BATCH,
) -> int:
    """Ingest up to `limit` unconsumed events of one organisation, oldest first; how many
    were consumed. The caller owns the transaction."""
    stmt = (
        select(ServiceEvent)
        .where(
            ServiceEvent.org_id == org_id,
            ServiceEvent.kind == STATUS_CHANGED,
            ServiceEvent.consumed_at.is_(None),
        )
        .order_by(ServiceEvent.created_at, ServiceEvent.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    events = list(await session.scalars(stmt))
    if not events:
        return 0
    found = await session.execute(
        select(Service.id, Service.slug).where(Service.id.in_({e.service_id for e in events}))
    )
    slugs = {sid: slug for sid, slug in found}
    items = []
    for event in events:
        item = event_alert(event, slugs.get(event.service_id, str(event.service_id)), now)
        if item is not None:
            items.append(item)
        event.consumed_at = now
    if items:
        await alerts.ingest(
            session, org_id, None, items, settings=settings, now=now,
            kind=AlertSourceKind.HEALTH_CHECK,
        )  # fmt: skip
    await session.flush()
    return len(events)


async def consume(
    sessions: async_sessionmaker[AsyncSession],
    settings: IncidentSettings,
    *,
    now: datetime | None = None,
) -> int:
    """Consume the pending events of every organisation that has some."""
    async with sessions() as session, session.begin():
        org_ids = list(
            await session.scalars(
                select(ServiceEvent.org_id)
                .where(ServiceEvent.kind == STATUS_CHANGED, ServiceEvent.consumed_at.is_(None))
                .distinct()
            )
        )
    total = 0
    for org_id in org_ids:
        async with sessions() as session, session.begin():
            total += await consume_org(session, org_id, settings, now or utcnow())
    return total


@periodic("incidents.health_events", every=TICK)
async def consume_health_events(runtime: Runtime) -> None:
    consumed = await consume(runtime.sessions, runtime.settings.incidents)
    if consumed:
        log.info("health-check events ingested", count=consumed)
