"""Incidents tables: alert sources, alerts, silences, incidents, their timeline, changes
and the correlations suggested between changes and incidents.

Alerts are episodes: one row per fingerprint while it fires (repeats bump `count` and
`last_seen`); a fingerprint that fires again after its incident closed is a new row, so
every incident keeps the alerts it had.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loom.db.base import Base, OrgScoped, Timestamps, UUIDPrimaryKey
from loom.db.types import PortableJSON, UTCDateTime, utcnow

#: The longest "name=value" grouping key kept; an alert's longer ones group nothing.
LABEL_KEY_MAX = 400


class AlertSource(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """A sender of alerts or changes (an Alertmanager, a CI system...). It authenticates
    with its bearer token (stored hashed) or an HMAC of the body with its secret (sealed in
    `loom.secrets`, owner type `alert_source`)."""

    __tablename__ = "alert_sources"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_alert_sources_org_name"),)

    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Silence(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """Alerts whose labels match every matcher between `starts_at` and `ends_at` are
    stored but open, join and notify nothing."""

    __tablename__ = "alert_silences"

    #: [{"name": "...", "value": "...", "op": "=" | "!=" | "=~" | "!~"}]
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(PortableJSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(320))


class Incident(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """A group of alerts with one probable cause. `number` is per organisation (INC-42).
    Everyone in the organisation reads incidents: an outage is not one team's secret."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("org_id", "number", name="uq_incidents_org_number"),
        Index("ix_incidents_org_status_last_alert", "org_id", "status", "last_alert_at"),
    )

    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    #: Set once someone edits the title: it is no longer regenerated from the root cause.
    title_edited: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20))
    #: The max of its alerts' severities, unless `severity_override` is set.
    severity: Mapped[str] = mapped_column(String(10))
    severity_override: Mapped[str | None] = mapped_column(String(10), default=None)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    environment: Mapped[str | None] = mapped_column(String(63), default=None)
    root_cause_service_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), default=None
    )
    #: Ranked candidates: [{"service", "score", "reasons": [...], ...}], best first.
    root_cause: Mapped[list[dict[str, Any]]] = mapped_column(PortableJSON, default=list)
    #: Downstream of the root cause, i.e. hurt by it: [{"service", "alerts"}].
    affected: Mapped[list[dict[str, Any]]] = mapped_column(PortableJSON, default=list)
    #: The services with alerts (ids as strings), kept on the row so grouping never reads
    #: every alert of an incident. Its grouping labels are rows of `IncidentLabel`.
    service_ids: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    #: Running counts of its alerts (`loom.incidents.tally`).
    stats: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    firing_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_alert_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the last firing alert resolved; the incident resolves itself a grace period
    #: later unless `hold_open` is set or an alert fires again.
    quiet_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    hold_open: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: Time to acknowledge and to resolve, in seconds from `opened_at` (for SLAs).
    mtta_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    mttr_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None
    )


class IncidentLabel(Base):
    """A "name=value" of a grouping label (host, pod...) that some alert of the incident
    has. Rows, not a list on the incident: a storm's incident gathers a key per pod and
    instance, thousands of them, while grouping a batch needs only the few its own
    alerts carry."""

    __tablename__ = "incident_labels"
    #: Grouping looks keys up (then keeps the open incidents' among them).
    __table_args__ = (Index("ix_incident_labels_key", "key", "incident_id"),)

    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(LABEL_KEY_MAX), primary_key=True)


class Alert(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # The current episode of a fingerprint: newest first.
        Index("ix_alerts_org_fingerprint", "org_id", "fingerprint", "first_seen"),
        Index("ix_alerts_org_status_last_seen", "org_id", "status", "last_seen"),
    )

    source_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alert_sources.id", ondelete="SET NULL"), default=None
    )
    source_kind: Mapped[str] = mapped_column(String(20))
    fingerprint: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))
    severity: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[dict[str, str]] = mapped_column(PortableJSON, default=dict)
    annotations: Mapped[dict[str, str]] = mapped_column(PortableJSON, default=dict)
    service_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), default=None, index=True
    )
    environment: Mapped[str | None] = mapped_column(String(63), default=None)
    generator_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    count: Mapped[int] = mapped_column(Integer, default=1)
    silence_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alert_silences.id", ondelete="SET NULL"), default=None
    )
    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None, index=True
    )
    #: Why it is in its incident: {"strategy": GroupingStrategy, "text": "...", ...}.
    grouping: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    #: Never loaded (lazy="raise"): it is here so one flush writes a new incident before
    #: the new alerts that point at it.
    incident: Mapped[Incident | None] = relationship(lazy="raise")


class IncidentEvent(UUIDPrimaryKey, OrgScoped, Base):
    """One entry of an incident's timeline (`kinds.EventKind`); comments are entries too."""

    __tablename__ = "incident_events"
    __table_args__ = (
        Index("ix_incident_events_incident_at", "incident_id", "at"),
        # Read in order of writing by the notifications' dispatcher (`loom.notify.outbox`).
        Index("ix_incident_events_created_at", "created_at"),
    )

    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Who: a user's email, or "system", or a source's name.
    actor: Mapped[str] = mapped_column(String(320))
    summary: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Never loaded: for the flush order (a new incident is written before its events).
    incident: Mapped[Incident] = relationship(lazy="raise")


class Change(UUIDPrimaryKey, OrgScoped, Base):
    """Something that changed in production (or elsewhere): a deployment, a config or
    feature-flag change, a scaling, an infrastructure change."""

    __tablename__ = "changes"
    __table_args__ = (
        # A webhook delivered twice records one change.
        UniqueConstraint("org_id", "source", "external_id", name="uq_changes_org_source_external"),
        Index("ix_changes_org_happened", "org_id", "happened_at"),
    )

    type: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    service_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), default=None, index=True
    )
    environment: Mapped[str | None] = mapped_column(String(63), default=None)
    version: Mapped[str | None] = mapped_column(String(200), default=None)
    previous_version: Mapped[str | None] = mapped_column(String(200), default=None)
    title: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(320))
    happened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    url: Mapped[str | None] = mapped_column(String(2000), default=None)
    #: The registry deployment a deployment change recorded (its version matrix).
    deployment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("service_deployments.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChangeCorrelation(UUIDPrimaryKey, Timestamps, OrgScoped, Base):
    """A change suggested as related to an incident, with its score (0-100) and the parts
    of it, and an engineer's verdict once given (kept for learning from feedback)."""

    __tablename__ = "change_correlations"
    __table_args__ = (
        UniqueConstraint("incident_id", "change_id", name="uq_change_correlations_incident_change"),
    )

    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    change_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("changes.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[int] = mapped_column(Integer)
    #: {"time": 0-1, "service": 0-1, "environment": 0-1, "type": 0-1, "reasons": [...]}
    parts: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    verdict: Mapped[str | None] = mapped_column(String(10), default=None)
    verdict_by: Mapped[str | None] = mapped_column(String(320), default=None)
    verdict_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    verdict_note: Mapped[str] = mapped_column(Text, default="")
    #: Never loaded: for the flush order (a new incident is written before its suggestions).
    incident: Mapped[Incident] = relationship(lazy="raise")
