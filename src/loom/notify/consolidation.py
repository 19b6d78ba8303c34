"""Consolidation: alerts that keep joining (or resolving in) an incident already notified
become ONE "incident.updated" message per consolidation window to each channel that got
the incident's message ("14 alerts, 9 firing"), never one message per alert.

The dispatcher reads the incident's `alert_fired` / `alert_resolved` timeline entries
and notes each in its window: windows are counted from when Loom opened the incident
([0, W), [W, 2W)...; W is `notify.consolidate_seconds`). A window's first entry sends a
timer, a delayed message on the notifications queue whose deduplication id names the
incident and the window, so a storm of entries (or one read twice) makes one timer. At
the window's end the timer queues one delivery per channel to update, in that channel's
group for the incident: the update keeps the incident's order on the channel without
holding anything back (a delayed message at the head of the group would hold back an
acknowledgement for up to a window). The message is built from the incident as it is
then, and again when attempted (it may have waited behind a retry).

Which channels: enabled ones with a message about the incident sent (or being retried),
of kinds that take updates (`registry.KindSpec.updates`: a Slack bot edits its message
in place; webhooks, Teams and e-mail get a message; PagerDuty none, it deduplicates).
Decided: no update once the incident is resolved (its "resolved" message is the last
word), nor while a maintenance window or a snooze mutes it; updates go through no rule,
so they never count against a rule's hourly limit. An acknowledged incident still gets
them: whoever works on it sees the storm grow.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.incidents.kinds import OPEN, EventKind, IncidentStatus
from loom.incidents.models import Incident, IncidentEvent
from loom.notify import delivery, registry
from loom.notify.kinds import AttemptStatus
from loom.notify.message import IncidentMessage
from loom.notify.models import Channel, Notification
from loom.queue.protocol import Queue

#: The `type` of a timer message (delivery messages have none).
TIMER = "consolidation"
#: Timeline kinds consolidated into updates.
KINDS = frozenset({EventKind.ALERT_FIRED.value, EventKind.ALERT_RESOLVED.value})
_DELIVERIES = uuid.UUID("3b9d7f0e-2c4a-4e8b-9f1d-6a5c8e2b7d30")
#: Entries of one transaction are stamped within this of each other (at its flush).
_SAME_WRITE = timedelta(seconds=1)


def is_open(incident: Incident) -> bool:
    return IncidentStatus(incident.status) in OPEN


def opened_with(entry: IncidentEvent, opened: IncidentEvent | None) -> bool:
    """Whether alert entry `entry` was written with `opened`, the incident's opening
    entry, in one transaction: the "opened" message, built when that is dispatched,
    already shows those alerts, so they need no update. Both entries carry the
    incident's first alert time and write stamps microseconds apart; a later batch
    joining the incident does not. Decided from the entries alone, so a replica that
    reads them again, remembering nothing, decides the same."""
    if opened is None or entry.kind != EventKind.ALERT_FIRED.value or entry.at != opened.at:
        return False
    return timedelta(0) <= entry.created_at - opened.created_at < _SAME_WRITE


def window_of(incident: Incident, written_at: datetime, seconds: float) -> tuple[int, datetime]:
    """The window (its index) an entry written at `written_at` falls in, and its end."""
    elapsed = max((written_at - incident.created_at).total_seconds(), 0.0)
    index = int(elapsed // seconds)
    return index, incident.created_at + timedelta(seconds=(index + 1) * seconds)


@dataclass
class Timers:
    """The timers one dispatcher pass sends (one per incident and window)."""

    queue: Queue
    seconds: float
    now: datetime
    sent: set[tuple[uuid.UUID, int]] = field(default_factory=set)

    async def note(self, session: AsyncSession, incident: Incident, entry: IncidentEvent) -> None:
        """An alert entry of `incident`: its window's timer (none once resolved)."""
        window, ends = window_of(incident, entry.created_at, self.seconds)
        if not is_open(incident) or (incident.id, window) in self.sent:
            return
        self.sent.add((incident.id, window))
        body = {"type": TIMER, "incident_id": str(incident.id), "window": window}
        await self.queue.send(
            f"{TIMER}:{incident.id}", body, dedup_id=f"{TIMER}:{incident.id}:{window}",
            delay_seconds=max((ends - self.now).total_seconds(), 0.0), session=session,
        )  # fmt: skip


async def fire(
    session: AsyncSession,
    queue: Queue,
    body: dict[str, Any],
    message_for: Callable[[Incident], Awaitable[IncidentMessage | None]],
) -> int:
    """A window's timer: queue the update to each channel told about the incident.
    `message_for(incident)` builds the update (None: muted now). Deliveries queued."""
    incident = await session.get(Incident, uuid.UUID(body["incident_id"]))
    if incident is None or not is_open(incident):
        return 0
    channels = await told(session, incident.id)
    if not channels:
        return 0
    message = await message_for(incident)
    if message is None:
        return 0
    queued = 0
    for channel in channels:
        key = f"{incident.id}:{body['window']}:{channel.id}"
        sent = await delivery.enqueue(
            queue, channel, message, session=session, delivery_id=uuid.uuid5(_DELIVERIES, key)
        )
        queued += sent is not None
    return queued


async def told(session: AsyncSession, incident_id: uuid.UUID) -> list[Channel]:
    """The enabled channels with a message about the incident sent or being retried, of
    kinds that take updates."""
    notified = (
        select(Notification.channel_id)
        .where(
            Notification.incident_id == incident_id,
            Notification.status.in_([AttemptStatus.SENT.value, AttemptStatus.RETRYING.value]),
        )
        .distinct()
    )
    found = await session.scalars(
        select(Channel)
        .where(Channel.id.in_(notified), Channel.enabled.is_(True))
        .order_by(Channel.name)
    )
    return [c for c in found if registry.kind(c.kind).updates]
