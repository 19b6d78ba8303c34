"""Claiming due checks and recording what their runs found.

A claim is one conditional UPDATE per check: `next_run_at` moves from the slot that was
due to the next slot, `WHERE next_run_at = <the slot read>`. Two ticks (on one replica
or several) that read the same due check race on that UPDATE; the database lets exactly
one of them change the row, so a slot runs once. The next slot counts from the slot, not
from now (no drift), and slots already missed are skipped, not run in a burst.

Recording a run is one transaction: the result row, the check's status and
`last_result`, and on a status change a `health_check.status_changed` service event
(the outbox other domains read).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loom.services.check_models import ServiceCheck, ServiceCheckResult, ServiceEvent
from loom.services.checks import status
from loom.services.checks.probe import Outcome, Probe
from loom.services.checks.schemas import CheckStatus

STATUS_CHANGED = "health_check.status_changed"


@dataclass(frozen=True)
class Claim:
    """One slot of one check that this process has the right to run."""

    check_id: uuid.UUID
    slot: datetime
    probe: Probe


def next_slot(slot: datetime, interval_seconds: int, now: datetime) -> datetime:
    """The first slot after `now` on the check's grid (`slot` + k intervals)."""
    interval = timedelta(seconds=interval_seconds)
    missed = max(0, math.floor((now - slot) / interval))
    return slot + (missed + 1) * interval


async def claim_due(
    sessions: async_sessionmaker[AsyncSession], until: datetime, now: datetime, limit: int
) -> list[Claim]:
    """Claim up to `limit` enabled checks whose slot is at or before `until` (earliest
    first), advancing each one's `next_run_at` past `now`."""
    if limit <= 0:
        return []
    async with sessions() as session, session.begin():
        due = (
            await session.scalars(
                select(ServiceCheck)
                .where(ServiceCheck.enabled.is_(True), ServiceCheck.next_run_at <= until)
                .order_by(ServiceCheck.next_run_at)
                .limit(limit)
            )
        ).all()
        claims = []
        for check in due:
            slot = check.next_run_at
            moved = await session.execute(
                update(ServiceCheck)
                .where(ServiceCheck.id == check.id, ServiceCheck.next_run_at == slot)
                .values(next_run_at=next_slot(slot, check.interval_seconds, max(now, slot)))
                .execution_options(synchronize_session=False)
            )
            assert isinstance(moved, CursorResult)
            if moved.rowcount == 1:
                claims.append(Claim(check.id, slot, Probe.of(check)))
    return claims


async def record(session: AsyncSession, check_id: uuid.UUID, slot: datetime, run: Outcome) -> bool:
    """Store one run's result and move the check's status; False if the check is gone.
    The caller owns the transaction."""
    check = await session.scalar(
        select(ServiceCheck).where(ServiceCheck.id == check_id).with_for_update()
    )
    if check is None:
        return False
    session.add(ServiceCheckResult(
        org_id=check.org_id, check_id=check.id, scheduled_at=slot, started_at=run.started_at,
        duration_ms=run.duration_ms, ok=run.ok, status_code=run.status_code,
        message=run.message, outcome=run.outcome.value,
    ))  # fmt: skip
    summary = run.summary()
    check.last_result = summary
    old = CheckStatus(check.status)
    if status.changes(old, run.outcome):
        check.status = run.outcome.value
        check.status_since = run.started_at
        session.add(ServiceEvent(
            org_id=check.org_id, service_id=check.service_id, kind=STATUS_CHANGED,
            data={"check_id": str(check.id), "check": check.name, "from": old.value,
                  "to": run.outcome.value, "result": summary},
            created_at=run.started_at,
        ))  # fmt: skip
    await session.flush()
    return True


async def prune(sessions: async_sessionmaker[AsyncSession], before: datetime) -> int:
    """Delete results started before `before`; how many went."""
    async with sessions() as session, session.begin():
        gone = await session.execute(
            delete(ServiceCheckResult)
            .where(ServiceCheckResult.started_at < before)
            .execution_options(synchronize_session=False)
        )
    assert isinstance(gone, CursorResult)
    return gone.rowcount
