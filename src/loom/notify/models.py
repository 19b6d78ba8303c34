"""Notification tables: the channels an organisation (or one of its teams) sends to, and a
log row per delivery attempt."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loom.db.base import Base, OrgScoped, Timestamps, UUIDPrimaryKey
from loom.db.types import PortableJSON, UTCDateTime, utcnow


class Channel(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """A place notifications go (`kinds.ChannelKind`). Its secret settings (tokens,
    webhook URLs, passwords) are sealed in `loom.secrets` (owner type `notify_channel`);
    `config` holds the rest."""

    __tablename__ = "notify_channels"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_notify_channels_org_name"),)

    #: The team that owns it; None: the organisation's.
    team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), default=None, index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    #: The names of the secret settings that are set (their values are in loom.secrets).
    secret_fields: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(320), default="")


class Notification(UUIDPrimaryKey, OrgScoped, Base):
    """One attempt to deliver one message to one channel. Attempts of the same message
    share `delivery_id`."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_incident_at", "incident_id", "created_at"),
        Index("ix_notifications_channel_at", "channel_id", "created_at"),
        Index("ix_notifications_org_status_at", "org_id", "status", "created_at"),
    )

    delivery_id: Mapped[uuid.UUID] = mapped_column(index=True)
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notify_channels.id", ondelete="SET NULL"), default=None
    )
    #: Kept when the channel is deleted, so the log still says where it went.
    channel_name: Mapped[str] = mapped_column(String(100))
    channel_kind: Mapped[str] = mapped_column(String(20))
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None
    )
    #: `message.NotifyEvent`
    event: Mapped[str] = mapped_column(String(40))
    #: Where it went, as shown to people (a Slack channel, recipients, a URL's host).
    target: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(10))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    #: What identifies the message remotely (Slack channel:ts, PagerDuty dedup key...).
    remote_ref: Mapped[str | None] = mapped_column(String(300), default=None)
    http_status: Mapped[int | None] = mapped_column(Integer, default=None)
    #: The remote answer (an excerpt) or the error, never a secret.
    response: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    #: When the event being notified happened (for "incident to delivery" latency).
    event_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rule(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """On which events, under which conditions, notifications go to which channels.
    Rules are tried by `position`; every matching rule fires, until one that says `stop`."""

    __tablename__ = "notify_rules"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_notify_rules_org_name"),)

    #: The team that owns it; None: the organisation's.
    team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), default=None, index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=100)
    #: `message.NotifyEvent` values.
    events: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    #: {"severities": [...], "services": [slugs], "environments": [...], "labels": {key:
    #: [values]}, "time_of_day": {"from", "to", "weekdays", "time_zone"}}: each one given
    #: must match (a list matches when any of its values does).
    conditions: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    #: Channel ids (strings).
    channel_ids: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    #: An escalation policy the rule starts (on incident.opened or incident.reopened).
    policy_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notify_policies.id", ondelete="SET NULL"), default=None
    )
    stop: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: At most this many events fire the rule in an hour for incidents of one pattern
    #: (`noise.pattern`): the incidents of one recurring problem count together.
    max_per_hour: Mapped[int] = mapped_column(Integer, default=10)
    created_by: Mapped[str] = mapped_column(String(320), default="")


class OutboxCursor(Base):
    """How far the dispatcher has read the incidents' timeline (one row)."""

    __tablename__ = "notify_outbox_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Policy(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """An escalation policy: levels tried in turn, each after its delay, until someone
    acknowledges the incident; the whole sequence repeats `repeat` times."""

    __tablename__ = "notify_policies"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_notify_policies_org_name"),)

    team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), default=None, index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    #: [{"delay_minutes": 0, "channel_ids": ["..."], "user_ids": [...], "team_ids": [...],
    #:   "schedule_ids": [...]}, ...] (older rows: channel_ids only): a level's delay
    #: counts from the level before (the first from the start).
    levels: Mapped[list[dict[str, Any]]] = mapped_column(PortableJSON, default=list)
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(320), default="")


class Escalation(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """A policy running for an incident. Its timers are delayed queue messages naming
    the run they belong to: a restart (the incident reopened) makes older ones void."""

    __tablename__ = "notify_escalations"
    __table_args__ = (
        UniqueConstraint("incident_id", "policy_id", name="uq_notify_escalations_incident_policy"),
    )

    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    policy_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notify_policies.id", ondelete="CASCADE")
    )
    #: active | stopped (acknowledged or resolved) | finished (every level fired)
    status: Mapped[str] = mapped_column(String(10), default="active")
    run: Mapped[int] = mapped_column(Integer, default=1)
    #: The level its next timer fires, and the round (0 first, then each repeat).
    level: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    stopped_by: Mapped[str] = mapped_column(String(320), default="")
    #: When the timeline event that started this run was written: the dispatcher may
    #: read events twice, and only later ones stop or restart the run.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Schedule(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """An on-call schedule: layers of rotations in a time zone, and overrides. The
    highest layer with someone on call wins; an override beats every layer."""

    __tablename__ = "notify_schedules"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_notify_schedules_org_name"),)

    team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), default=None, index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    #: An IANA time zone ("Europe/Paris"): handoffs happen at its wall-clock time.
    time_zone: Mapped[str] = mapped_column(String(64))
    #: [{"name", "rotation": "daily" | "weekly", "handoff": "09:00", "start": "2026-11-02",
    #:   "user_ids": [...]}], lowest priority first.
    layers: Mapped[list[dict[str, Any]]] = mapped_column(PortableJSON, default=list)
    created_by: Mapped[str] = mapped_column(String(320), default="")


class Override(UUIDPrimaryKey, OrgScoped, Base):
    """Someone on call instead, for a while."""

    __tablename__ = "notify_schedule_overrides"
    __table_args__ = (Index("ix_notify_schedule_overrides_schedule_end", "schedule_id", "ends_at"),)

    schedule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notify_schedules.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MaintenanceWindow(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """While a window is open, incidents of its services (all, if it names none) notify
    nobody; what would have been sent is logged as muted. Open once (`starts_at` to
    `ends_at`), every week (`weekdays` at `start_time` for `duration_minutes`, in
    `time_zone`) or whenever `cron` fires (in `time_zone`, for `duration_minutes`)."""

    __tablename__ = "notify_maintenance_windows"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_notify_maintenance_windows_org_name"),
    )

    team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), default=None, index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    #: Service slugs; none: every service.
    services: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    #: A snooze of one incident: the window covers that incident only.
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), default=None
    )
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: ["mon", ..., "sun"]
    weekdays: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    start_time: Mapped[str | None] = mapped_column(String(5), default=None)
    duration_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    #: A five-field cron expression ("0 2 * * 6"), read in `time_zone`.
    cron: Mapped[str | None] = mapped_column(String(100), default=None)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_by: Mapped[str] = mapped_column(String(320), default="")


class ChatWorkspace(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """A chat workspace (a Slack team) whose people act on incidents from the chat. Its
    signing secret and bot token are sealed in `loom.secrets` (owner type
    `chat_workspace`)."""

    __tablename__ = "notify_chat_workspaces"
    __table_args__ = (
        UniqueConstraint("provider", "workspace_id", name="uq_notify_chat_workspaces_remote"),
    )

    provider: Mapped[str] = mapped_column(String(20))
    #: Slack's team id ("T0123ABC").
    workspace_id: Mapped[str] = mapped_column(String(64))
    #: Slack's Web API (a test points it at a fake).
    api_base: Mapped[str] = mapped_column(String(300), default="https://slack.com/api")
    created_by: Mapped[str] = mapped_column(String(320), default="")


class ChatMember(UUIDPrimaryKey, OrgScoped, Base):
    """A chat person linked to their Loom user (Teams: with a one-time code said in the
    channel, `chatops_teams`): what they say through that workspace acts as that user."""

    __tablename__ = "notify_chat_members"
    __table_args__ = (
        UniqueConstraint("workspace_id", "remote_user_id", name="uq_notify_chat_members_remote"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notify_chat_workspaces.id", ondelete="CASCADE")
    )
    #: Who they are in the chat: "aad:<Entra object id>", else "teams:<Teams id>".
    remote_user_id: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    #: Their chat name when they linked (shown in lists; audit entries use the live one).
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RuleHit(Base):
    """A rule fired for an incident (what its hourly limit counts, per incident pattern)."""

    __tablename__ = "notify_rule_hits"
    __table_args__ = (Index("ix_notify_rule_hits_rule_pattern_at", "rule_id", "pattern", "at"),)

    #: Derived from the rule and the event: an event read twice counts once.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notify_rules.id", ondelete="CASCADE"))
    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    #: The incident's pattern (`noise.pattern`): incidents of one recurring problem share it.
    pattern: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContactMethod(UUIDPrimaryKey, OrgScoped, Base):
    """How a person is paged: an e-mail address (through an e-mail channel) or a Slack
    member id (a DM through a Slack bot channel). Escalation levels naming people page
    each of their contact methods, by `position`."""

    __tablename__ = "notify_contact_methods"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "address", name="uq_notify_contact_methods_address"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    #: "email" | "slack"
    kind: Mapped[str] = mapped_column(String(20))
    #: An e-mail address, or a Slack member id ("U0123ABC").
    address: Mapped[str] = mapped_column(String(320))
    #: The channel that carries it: an e-mail channel, or a Slack channel in bot mode.
    channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notify_channels.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
