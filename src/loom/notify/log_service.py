"""The notification log as people may read it: one query serving the API
(`GET /notify/notifications`, `GET /incidents/{ref}/notifications`) and the portal. A
person sees the attempts made through the channels they see (the organisation's and
their teams'), and those of deleted channels; organisation admins see every attempt."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, or_, select

from loom.auth.principal import Principal
from loom.notify.channels_service import list_query as visible_channels
from loom.notify.kinds import AttemptStatus
from loom.notify.models import Channel, Notification

#: Newest first; the pagination keys of every log listing.
ORDER = (Notification.created_at, Notification.id)


def log_query(
    principal: Principal,
    *,
    channel: uuid.UUID | None = None,
    delivery: uuid.UUID | None = None,
    status: AttemptStatus | None = None,
    incident_id: uuid.UUID | None = None,
) -> Select[Notification]:
    """The caller's view of the log, narrowed by what is given."""
    stmt = select(Notification).where(Notification.org_id == principal.org_id)
    if not principal.sees_all_teams:
        seen = visible_channels(principal).with_only_columns(Channel.id)
        stmt = stmt.where(or_(Notification.channel_id.is_(None), Notification.channel_id.in_(seen)))
    if channel is not None:
        stmt = stmt.where(Notification.channel_id == channel)
    if delivery is not None:
        stmt = stmt.where(Notification.delivery_id == delivery)
    if status is not None:
        stmt = stmt.where(Notification.status == status.value)
    if incident_id is not None:
        stmt = stmt.where(Notification.incident_id == incident_id)
    return stmt
