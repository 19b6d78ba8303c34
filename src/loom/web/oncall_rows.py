"""What the incident page and the on-call pages share: notification log rows as the
portal shows them (the API's `views.notification_out`, with times and the incident's
reference), an incident's notifications, and who acknowledged an incident."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.principal import Principal
from loom.db.filters import names_by_id
from loom.incidents.kinds import EventKind, IncidentStatus
from loom.incidents.models import Incident, IncidentEvent
from loom.notify import views
from loom.notify.kinds import AttemptStatus
from loom.notify.log_service import ORDER, log_query
from loom.notify.models import Notification
from loom.web.ops import incident_path
from loom.web.timefmt import moment

ONCALL = "/ui/oncall"
#: The on-call pages, in their sub-navigation: (slug, label, path).
VIEWS: tuple[tuple[str, str, str], ...] = (
    ("oncall", "On call", ONCALL),
    ("rules", "Rules", ONCALL + "/rules"),
    ("channels", "Channels", ONCALL + "/channels"),
    ("maintenance", "Maintenance", ONCALL + "/maintenance"),
    ("log", "Notification log", ONCALL + "/log"),
)
#: Attempts shown on an incident's page, newest first (the API pages through more).
INCIDENT_LIMIT = 200
#: Statuses whose row shows the error: why it was not (yet) delivered.
_EXPLAINED = {AttemptStatus.DEAD, AttemptStatus.MUTED, AttemptStatus.RETRYING}
#: Timeline events that may carry the acknowledgement: an explicit one, or a person
#: moving the incident on (`incidents.lifecycle.apply_status`).
_ACK_KINDS = (EventKind.ACKNOWLEDGED, EventKind.STATUS_CHANGED, EventKind.RESOLVED)


async def notification_rows(
    session: AsyncSession, rows: Sequence[Notification]
) -> list[dict[str, Any]]:
    numbers = await names_by_id(session, Incident.number, Incident.id,
                                (r.incident_id for r in rows))  # fmt: skip
    out = []
    for row in rows:
        shown = views.notification_out(row)
        number = numbers.get(row.incident_id) if row.incident_id else None
        out.append({
            **shown.model_dump(), "status": shown.status.value, "at": moment(shown.created_at),
            "why": shown.error if shown.status in _EXPLAINED else "",
            "incident": f"INC-{number}" if number is not None else None,
            "incident_url": incident_path(number) if number is not None else None,
        })  # fmt: skip
    return out


async def incident_notifications(
    session: AsyncSession, principal: Principal, incident_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The incident's notification log as the person sees it, newest first: what
    `GET /incidents/{ref}/notifications` answers."""
    stmt = (
        log_query(principal, incident_id=incident_id)
        .order_by(*(key.desc() for key in ORDER))
        .limit(INCIDENT_LIMIT)
    )
    return await notification_rows(session, list(await session.scalars(stmt)))


async def acknowledged_by(session: AsyncSession, incident: Incident) -> str | None:
    """Who acknowledged the incident: the actor of the timeline event written with its
    `acknowledged_at` (the incident keeps the time, the timeline the person). None for a
    reopened incident: it waits for a new acknowledgement."""
    if incident.acknowledged_at is None or incident.status == IncidentStatus.TRIGGERED:
        return None
    stmt = (
        select(IncidentEvent.actor)
        .where(
            IncidentEvent.incident_id == incident.id,
            IncidentEvent.kind.in_([k.value for k in _ACK_KINDS]),
            IncidentEvent.at == incident.acknowledged_at,
        )
        .order_by(IncidentEvent.created_at)
        .limit(1)
    )
    return await session.scalar(stmt)
