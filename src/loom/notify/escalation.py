"""Escalation: a policy's levels fired in turn for an incident until someone acknowledges
it. Each level's timer is a delayed message on the notifications queue, so it survives
restarts and fires once across replicas; it names the escalation's run, so the timers of
a run stopped (acknowledged, resolved) or restarted (reopened) do nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents.kinds import IncidentStatus
from loom.incidents.models import Incident
from loom.notify import delivery, paging
from loom.notify.message import IncidentMessage
from loom.notify.models import Channel, Escalation, Policy
from loom.queue.protocol import Queue

#: The `type` of a timer message (delivery messages have none).
TIMER = "escalation"
_DELIVERIES = uuid.UUID("0f4a3c2e-8b1d-4d7e-a5c9-3e6f2b8d1c47")


async def start(
    session: AsyncSession,
    queue: Queue,
    incident: Incident,
    policy: Policy,
    now: datetime,
    event_at: datetime,
) -> Escalation:
    """Start (or restart, as a new run) `policy` for `incident` at its first level, for
    the timeline event written at `event_at` (an event no later than the current run's,
    read again, starts nothing)."""
    found = await session.scalar(
        select(Escalation).where(
            Escalation.incident_id == incident.id, Escalation.policy_id == policy.id
        )
    )
    if found is None:
        found = Escalation(
            id=uuid.uuid4(), org_id=incident.org_id, incident_id=incident.id,
            policy_id=policy.id, run=1,
        )  # fmt: skip
        session.add(found)
    elif found.status == "active" or (found.started_at and found.started_at >= event_at):
        return found  # running, or started by this event or a later one
    else:
        found.run += 1
    found.status, found.level, found.round, found.stopped_by = "active", 0, 0, ""
    found.started_at = event_at
    await _schedule(session, queue, found, policy, now)
    return found


async def stop(session: AsyncSession, incident_id: uuid.UUID, by: str, event_at: datetime) -> int:
    """Stop the incident's running escalations started before the event written at
    `event_at` (an acknowledgement read again does not stop a later run); how many."""
    running = await session.scalars(
        select(Escalation).where(
            Escalation.incident_id == incident_id, Escalation.status == "active"
        )
    )
    stopped = 0
    for escalation in running:
        if escalation.started_at is not None and escalation.started_at > event_at:
            continue
        escalation.status, escalation.stopped_by, escalation.next_at = "stopped", by, None
        stopped += 1
    return stopped


async def fire(
    session: AsyncSession,
    queue: Queue,
    body: dict[str, Any],
    now: datetime,
    message_for: Callable[[Incident], Awaitable[IncidentMessage]],
) -> int:
    """A level's timer: notify the level's channels and page its people (`paging`) unless
    the escalation stopped, then schedule the next level. `message_for(incident)` builds
    the message. Returns the deliveries queued."""
    escalation = await session.get(Escalation, uuid.UUID(body["escalation_id"]))
    if escalation is None or escalation.status != "active" or escalation.run != body["run"]:
        return 0
    if (escalation.level, escalation.round) != (body["level"], body["round"]):
        return 0  # an older timer of this run
    incident = await session.get(Incident, escalation.incident_id)
    policy = await session.get(Policy, escalation.policy_id)
    if incident is None or policy is None or not policy.levels:
        escalation.status = "finished"
        return 0
    if incident.status != IncidentStatus.TRIGGERED.value:
        escalation.status, escalation.stopped_by = "stopped", f"incident {incident.status}"
        return 0
    level = policy.levels[min(escalation.level, len(policy.levels) - 1)]
    message = await message_for(incident)
    message.extra["escalation"] = (
        f"level {escalation.level + 1} of {len(policy.levels)} ({policy.name})"
        + (f", round {escalation.round + 1}" if escalation.round else "")
    )
    queued = 0
    channels = await session.scalars(
        select(Channel).where(
            Channel.org_id == incident.org_id,
            Channel.id.in_([uuid.UUID(c) for c in level.get("channel_ids", [])]),
            Channel.enabled.is_(True),
        )
    )
    for channel in channels:
        key = f"{escalation.id}:{escalation.run}:{escalation.round}:{escalation.level}:{channel.id}"
        sent = await delivery.enqueue(
            queue, channel, message, session=session, delivery_id=uuid.uuid5(_DELIVERIES, key)
        )
        queued += sent is not None
    queued += await paging.Paging(
        session, queue, incident.org_id, incident.id, message,
        key=f"{escalation.id}:{escalation.run}:{escalation.round}:{escalation.level}",
    ).page(level, now)  # fmt: skip
    escalation.level += 1
    if escalation.level >= len(policy.levels):
        if escalation.round >= policy.repeat:
            escalation.status, escalation.next_at = "finished", None
            return queued
        escalation.level, escalation.round = 0, escalation.round + 1
    await _schedule(session, queue, escalation, policy, now)
    return queued


async def _schedule(
    session: AsyncSession, queue: Queue, escalation: Escalation, policy: Policy, now: datetime
) -> None:
    """The timer of the escalation's next level."""
    delay = float(policy.levels[escalation.level].get("delay_minutes", 0)) * 60
    escalation.next_at = now + timedelta(seconds=delay)
    body = {"type": TIMER, "escalation_id": str(escalation.id), "run": escalation.run,
            "level": escalation.level, "round": escalation.round}  # fmt: skip
    await queue.send(
        f"escalation:{escalation.id}", body,
        dedup_id=f"{escalation.id}:{escalation.run}:{escalation.round}:{escalation.level}",
        delay_seconds=delay, session=session,
    )  # fmt: skip
