"""Channels and notification log rows as the API shows them (secrets masked)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.models import Team, User
from loom.db.filters import names_by_id
from loom.db.types import utcnow
from loom.notify import schemas
from loom.notify.kinds import AttemptStatus, ChannelKind
from loom.notify.maintenance import is_open
from loom.notify.models import (
    Channel,
    ContactMethod,
    MaintenanceWindow,
    Notification,
    Policy,
    Rule,
    Schedule,
)
from loom.secrets.service import masked


async def channels_out(session: AsyncSession, channels: Sequence[Channel]) -> list[schemas.Channel]:
    slugs = await names_by_id(session, Team.slug, Team.id, (c.team_id for c in channels))
    return [
        schemas.Channel(
            id=c.id, name=c.name, kind=ChannelKind(c.kind),
            team=slugs.get(c.team_id) if c.team_id else None, config=c.config,
            secrets=masked(dict.fromkeys(c.secret_fields)), enabled=c.enabled,
            created_by=c.created_by, created_at=c.created_at, updated_at=c.updated_at,
        )
        for c in channels
    ]  # fmt: skip


def notification_out(row: Notification) -> schemas.Notification:
    return schemas.Notification(
        id=row.id, delivery_id=row.delivery_id, channel_id=row.channel_id,
        channel=row.channel_name, channel_kind=row.channel_kind, incident_id=row.incident_id,
        event=row.event, target=row.target, status=AttemptStatus(row.status),
        attempt=row.attempt, remote_ref=row.remote_ref, http_status=row.http_status,
        response=row.response, error=row.error, latency_ms=row.latency_ms,
        event_at=row.event_at, created_at=row.created_at,
    )  # fmt: skip


async def rules_out(session: AsyncSession, rules: Sequence[Rule]) -> list[schemas.Rule]:
    teams = await names_by_id(session, Team.slug, Team.id, (r.team_id for r in rules))
    policies = await names_by_id(session, Policy.name, Policy.id, (r.policy_id for r in rules))
    names = await _channel_names(session, (c for r in rules for c in r.channel_ids))
    return [
        schemas.Rule(
            id=r.id, name=r.name, team=teams.get(r.team_id) if r.team_id else None,
            position=r.position, events=r.events,
            severities=r.conditions.get("severities", []),
            services=r.conditions.get("services", []),
            environments=r.conditions.get("environments", []),
            labels=r.conditions.get("labels") or {},
            time_of_day=schemas.TimeOfDay.model_validate(r.conditions["time_of_day"])
            if r.conditions.get("time_of_day") else None,
            channels=[names.get(c, c) for c in r.channel_ids],
            policy=policies.get(r.policy_id) if r.policy_id else None, stop=r.stop,
            enabled=r.enabled, max_per_hour=r.max_per_hour, created_by=r.created_by,
            created_at=r.created_at,
        )
        for r in rules
    ]  # fmt: skip


async def policies_out(session: AsyncSession, policies: Sequence[Policy]) -> list[schemas.Policy]:
    teams = await names_by_id(session, Team.slug, Team.id, (p.team_id for p in policies))
    levels = [level for p in policies for level in p.levels]
    names = await _channel_names(session, (c for lv in levels for c in lv["channel_ids"]))
    emails = await _names(session, User.email, User.id, levels, "user_ids")
    slugs = await _names(session, Team.slug, Team.id, levels, "team_ids")
    schedules = await _names(session, Schedule.name, Schedule.id, levels, "schedule_ids")
    return [
        schemas.Policy(
            id=p.id, name=p.name, team=teams.get(p.team_id) if p.team_id else None,
            levels=[schemas.PolicyLevel(delay_minutes=lv["delay_minutes"],
                                        channels=[names.get(c, c) for c in lv["channel_ids"]],
                                        users=[emails.get(u, u) for u in lv.get("user_ids", [])],
                                        teams=[slugs.get(t, t) for t in lv.get("team_ids", [])],
                                        schedules=[schedules.get(s, s)
                                                   for s in lv.get("schedule_ids", [])])
                    for lv in p.levels],
            repeat=p.repeat, created_by=p.created_by, created_at=p.created_at,
        )
        for p in policies
    ]  # fmt: skip


async def _names(
    session: AsyncSession, column: Any, key: Any, levels: Iterable[dict[str, Any]], ids: str
) -> dict[str, str]:
    """Stored id (a string, in policy levels) -> name, for the ids under `ids`."""
    found = await names_by_id(
        session, column, key, (uuid.UUID(i) for lv in levels for i in lv.get(ids, []))
    )
    return {str(row_id): name for row_id, name in found.items()}


async def contacts_out(
    session: AsyncSession, methods: Sequence[ContactMethod]
) -> list[schemas.ContactMethod]:
    emails = await names_by_id(session, User.email, User.id, (m.user_id for m in methods))
    channels = await names_by_id(session, Channel.name, Channel.id, (m.channel_id for m in methods))
    return [
        schemas.ContactMethod(
            id=m.id, user=emails.get(m.user_id, str(m.user_id)), kind=m.kind, address=m.address,
            channel=channels.get(m.channel_id, str(m.channel_id)), position=m.position,
            created_at=m.created_at,
        )
        for m in methods
    ]  # fmt: skip


async def _channel_names(session: AsyncSession, ids: Iterable[str]) -> dict[str, str]:
    """Channel id (as stored in rules and policies) -> name."""
    found = await names_by_id(session, Channel.name, Channel.id, (uuid.UUID(i) for i in ids))
    return {str(channel_id): name for channel_id, name in found.items()}


async def schedules_out(
    session: AsyncSession, schedules: Sequence[Schedule]
) -> list[schemas.Schedule]:
    teams = await names_by_id(session, Team.slug, Team.id, (s.team_id for s in schedules))
    emails = await names_by_id(
        session, User.email, User.id,
        (uuid.UUID(u) for s in schedules for layer in s.layers for u in layer["user_ids"]),
    )  # fmt: skip
    return [
        schemas.Schedule(
            id=s.id, name=s.name, team=teams.get(s.team_id) if s.team_id else None,
            time_zone=s.time_zone,
            layers=[schemas.LayerIn(name=lv["name"], rotation=lv["rotation"],
                                    handoff=lv["handoff"], start=lv["start"],
                                    users=[emails.get(uuid.UUID(u), u) for u in lv["user_ids"]])
                    for lv in s.layers],
            created_by=s.created_by, created_at=s.created_at,
        )
        for s in schedules
    ]  # fmt: skip


async def maintenance_out(
    session: AsyncSession, windows: Sequence[MaintenanceWindow]
) -> list[schemas.Maintenance]:
    teams = await names_by_id(session, Team.slug, Team.id, (w.team_id for w in windows))
    now = utcnow()
    return [
        schemas.Maintenance.model_validate({
            "id": w.id, "name": w.name, "team": teams.get(w.team_id) if w.team_id else None,
            "services": w.services, "starts_at": w.starts_at, "ends_at": w.ends_at,
            "weekdays": w.weekdays, "start_time": w.start_time,
            "duration_minutes": w.duration_minutes, "cron": w.cron, "time_zone": w.time_zone,
            "incident_id": w.incident_id, "open_now": is_open(w, now),
            "created_by": w.created_by,
        })
        for w in windows
    ]  # fmt: skip
