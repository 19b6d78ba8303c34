"""Channels: create, read, change, delete, and "send a test message". An organisation's
channels are managed by its admins, a team's by the team's admins; members read them,
secrets always masked. Settings are validated by the kind's model; secret settings are
sealed in `loom.secrets` and never shown again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.auth.service import team_named
from loom.errors import Conflict, FieldIssue, InvalidInput, NotFound, field_path
from loom.notify import delivery, registry
from loom.notify.message import IncidentMessage, NotifyEvent
from loom.notify.models import Channel, MaintenanceWindow, Policy, Rule, Schedule
from loom.queue.protocol import Queue
from loom.secrets import service as secrets


def _validated(kind: str, config: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    """The kind's settings, checked; errors name `config.<field>` or `secrets.<field>`."""
    try:
        spec = registry.kind(kind)
    except ValueError:
        raise InvalidInput.on("kind", f"unknown channel kind '{kind}'") from None
    try:
        checked = spec.config.model_validate(dict(config))
    except ValidationError as error:
        issues = [FieldIssue(field_path(e["loc"], "config"), e["msg"]) for e in error.errors()]
        raise InvalidInput("the channel's settings are not valid", issues) from None
    unknown = sorted(set(given) - set(spec.secret_fields))
    if unknown:
        raise InvalidInput(
            "unknown secret settings",
            [FieldIssue(f"secrets.{name}", f"not a secret setting of {kind} channels "
                        f"({', '.join(spec.secret_fields) or 'none'})") for name in unknown],
        )  # fmt: skip
    return checked.model_dump(mode="json")


async def require_manager(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID | None
) -> None:
    if team_id is None:
        principal.require_org_role(Role.ADMIN)
    else:
        principal.require_team_role(team_id, Role.ADMIN, "team")


def _visible(principal: Principal) -> Select[Channel]:
    stmt = select(Channel).where(Channel.org_id == principal.org_id)
    if principal.sees_all_teams:
        return stmt
    return stmt.where(or_(Channel.team_id.is_(None), Channel.team_id.in_(principal.team_ids)))


def list_query(principal: Principal) -> Select[Channel]:
    """The channels the caller sees: the organisation's and those of their teams."""
    return _visible(principal)


async def get_channel(
    session: AsyncSession, principal: Principal, channel_id: uuid.UUID
) -> Channel:
    found = await session.scalar(_visible(principal).where(Channel.id == channel_id))
    if found is None:
        raise NotFound(f"channel '{channel_id}' not found")
    return found


async def create_channel(
    session: AsyncSession,
    key: bytes,
    principal: Principal,
    *,
    name: str,
    kind: str,
    team: str | None,
    config: Mapping[str, Any],
    secret_values: Mapping[str, str],
    enabled: bool = True,
) -> Channel:
    team_id = await owning_team(session, principal, team)
    await require_manager(session, principal, team_id)
    checked = _validated(kind, config, secret_values)
    await name_free(session, Channel, principal.org_id, name)
    channel = Channel(
        org_id=principal.org_id, team_id=team_id, name=name, kind=kind, config=checked,
        secret_fields=sorted(secret_values), enabled=enabled, created_by=principal.email,
    )  # fmt: skip
    session.add(channel)
    await session.flush()
    await _seal(session, key, channel, secret_values)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_channel.create",
        target_type="notify_channel", target_id=channel.id, team_id=team_id,
        after=_audited(channel),
    )  # fmt: skip
    return channel


async def update_channel(
    session: AsyncSession,
    key: bytes,
    principal: Principal,
    channel_id: uuid.UUID,
    *,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    secret_values: Mapping[str, str] | None = None,
    enabled: bool | None = None,
) -> Channel:
    """Change what is given; `secret_values` replaces only the secrets it names."""
    channel = await get_channel(session, principal, channel_id)
    await require_manager(session, principal, channel.team_id)
    before = _audited(channel)
    checked = _validated(
        channel.kind, channel.config if config is None else config, secret_values or {}
    )
    if name is not None and name != channel.name:
        await name_free(session, Channel, principal.org_id, name)
        channel.name = name
    channel.config = checked
    if enabled is not None:
        channel.enabled = enabled
    if secret_values:
        channel.secret_fields = sorted(set(channel.secret_fields) | set(secret_values))
        await _seal(session, key, channel, secret_values)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_channel.update",
        target_type="notify_channel", target_id=channel.id, team_id=channel.team_id,
        before=before, after=_audited(channel) | {"secrets_changed": sorted(secret_values or {})},
    )  # fmt: skip
    return channel


async def delete_channel(
    session: AsyncSession, principal: Principal, channel_id: uuid.UUID
) -> None:
    """Forget a channel and its secrets; its notification log stays."""
    channel = await get_channel(session, principal, channel_id)
    await require_manager(session, principal, channel.team_id)
    await secrets.forget(session, owner_type=delivery.SECRET_OWNER, owner_id=channel.id)
    await audit.record(
        session, org_id=principal.org_id, actor=principal, action="notify_channel.delete",
        target_type="notify_channel", target_id=channel.id, team_id=channel.team_id,
        before=_audited(channel),
    )  # fmt: skip
    await session.delete(channel)


async def send_test(
    session: AsyncSession,
    queue: Queue,
    principal: Principal,
    channel_id: uuid.UUID,
    *,
    portal_url: str,
) -> uuid.UUID:
    """Queue a test message to the channel (its managers only); the delivery id, whose
    attempts show in the notification log."""
    channel = await get_channel(session, principal, channel_id)
    await require_manager(session, principal, channel.team_id)
    now = datetime.now(UTC)
    message = IncidentMessage(
        event=NotifyEvent.TEST, incident_id=f"test-{uuid.uuid4()}", ref="TEST",
        title=f"Test message from Loom, sent by {principal.email}", status="triggered",
        severity="info", opened_at=now, at=now, url=portal_url, actor=principal.email,
    )  # fmt: skip
    queued = await delivery.enqueue(queue, channel, message, session=session)
    assert queued is not None  # a new delivery id is never a duplicate
    return queued


async def owning_team(
    session: AsyncSession, principal: Principal, team: str | None
) -> uuid.UUID | None:
    if team is None:
        return None
    team_id = await team_named(session, principal, team)
    if team_id is None:
        raise InvalidInput.on("team", f"no team '{team}' in this organisation")
    return team_id


_WHAT: dict[type, str] = {Channel: "channel", Rule: "rule", Schedule: "schedule",
                          MaintenanceWindow: "maintenance window"}  # fmt: skip


async def name_free(
    session: AsyncSession,
    model: type[Channel | Rule | Policy | Schedule | MaintenanceWindow],
    org_id: uuid.UUID,
    name: str,
) -> None:
    """Refuse a name a channel (rule, policy) of the organisation already has."""
    taken = await session.scalar(select(model.id).where(model.org_id == org_id, model.name == name))
    if taken is not None:
        what = _WHAT.get(model, "escalation policy")
        raise Conflict(f"a {what} named '{name}' exists")


async def _seal(
    session: AsyncSession, key: bytes, channel: Channel, values: Mapping[str, str]
) -> None:
    if values:
        await secrets.store(
            session, key, org_id=channel.org_id, owner_type=delivery.SECRET_OWNER,
            owner_id=channel.id, values=values,
        )  # fmt: skip


def _audited(channel: Channel) -> dict[str, Any]:
    """What an audit entry keeps of a channel: never a secret's value."""
    return {"name": channel.name, "kind": channel.kind, "config": channel.config,
            "secrets": sorted(channel.secret_fields), "enabled": channel.enabled}  # fmt: skip
