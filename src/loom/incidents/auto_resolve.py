"""Incidents resolve themselves: when every alert of an open incident has resolved
(`firing_count == 0`) and none fired again for `incidents.resolve_grace_minutes` after the
last one resolved (`quiet_since`), the incident resolves, by "system", unless someone
holds it open. A periodic job (every 30 s, once across replicas) runs `resolve_quiet`.

An alert that fires again within the grace period puts the incident back to firing
(the pipeline clears `quiet_since`), so it no longer qualifies.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.audit.service import Actor
from loom.db.types import utcnow
from loom.incidents import pipeline
from loom.incidents.kinds import OPEN, IncidentStatus
from loom.incidents.lifecycle import apply_status
from loom.incidents.models import Incident
from loom.incidents.timeline import SYSTEM
from loom.platform.runtime import Runtime
from loom.platform.scheduler import periodic
from loom.settings import IncidentSettings

log = structlog.get_logger("loom.incidents")

EVERY = timedelta(seconds=30)
#: Incidents resolved per run at most (the next run takes the rest).
BATCH = 500


def _minutes(grace: timedelta) -> str:
    minutes = grace.total_seconds() / 60
    return f"{minutes:g} min"


def _quiet(settings: IncidentSettings, now: datetime) -> list[ColumnElement[bool]]:
    grace = timedelta(minutes=settings.resolve_grace_minutes)
    return [
        Incident.status.in_([s.value for s in OPEN]),
        Incident.firing_count == 0,
        Incident.quiet_since.is_not(None),
        Incident.quiet_since <= now - grace,
        Incident.hold_open.is_(False),
        Incident.merged_into_id.is_(None),
    ]


async def resolve_quiet(
    session: AsyncSession, *, settings: IncidentSettings, now: datetime
) -> list[Incident]:
    """Resolve every open incident quiet for the grace period and not held open (in all
    organisations); returns them. Runs in the caller's transaction.

    Each organisation's incidents are read again under `pipeline.lock_alerts`, the lock
    ingestion groups under, so an alert never joins an incident as it resolves: one that
    fired meanwhile has made its incident firing, and it is left open."""
    orgs = list(
        await session.scalars(select(Incident.org_id).where(*_quiet(settings, now)).distinct())
    )
    grace = timedelta(minutes=settings.resolve_grace_minutes)
    reason = f"all alerts resolved for {_minutes(grace)}"
    actor = Actor.system(SYSTEM)
    done: list[Incident] = []
    for org_id in sorted(orgs):
        await pipeline.lock_alerts(session, org_id)
        stmt = (
            select(Incident)
            .where(Incident.org_id == org_id, *_quiet(settings, now))
            .order_by(Incident.quiet_since)
            .limit(BATCH - len(done))
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        for incident in await session.scalars(stmt):
            before = incident.status
            apply_status(
                session, incident, IncidentStatus.RESOLVED, actor=SYSTEM, now=now,
                note=reason, data={"reason": reason},
            )  # fmt: skip
            await audit.record(
                session, org_id=incident.org_id, actor=actor, action="incident.resolve",
                target_type="incident", target_id=incident.id,
                before={"status": before}, after={"status": incident.status, "reason": reason},
            )  # fmt: skip
            done.append(incident)
        if len(done) >= BATCH:
            break
    return done


@periodic("incidents.auto_resolve", every=EVERY)
async def auto_resolve(runtime: Runtime) -> None:
    async with runtime.sessions() as session, session.begin():
        done = await resolve_quiet(session, settings=runtime.settings.incidents, now=utcnow())
    if done:
        log.info("incidents resolved themselves", count=len(done))
