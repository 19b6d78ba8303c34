"""API shapes of incidents, alerts, timeline events, changes and correlations as read by
clients (the API, the CLI's typed client and the portal share them). Input shapes live
next to the endpoints that take them (alert_schemas, change_schemas, incident inputs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from loom.incidents.kinds import (
    AlertSourceKind,
    AlertStatus,
    ChangeSource,
    ChangeType,
    EventKind,
    IncidentStatus,
    Severity,
    Verdict,
)


class Grouping(BaseModel):
    """Why an alert is in its incident ("same service `api` within 5 min")."""

    strategy: str
    text: str
    incident_number: int | None = None


class Alert(BaseModel):
    id: uuid.UUID
    fingerprint: str
    status: AlertStatus
    severity: Severity
    name: str
    summary: str
    labels: dict[str, str]
    annotations: dict[str, str]
    service: str | None = Field(description="The registry slug it maps to, if any")
    environment: str | None
    source: str | None = Field(description="The alert source's name")
    source_kind: AlertSourceKind
    generator_url: str | None
    starts_at: datetime
    ends_at: datetime | None
    first_seen: datetime
    last_seen: datetime
    count: int
    silenced: bool
    incident_id: uuid.UUID | None
    incident_number: int | None
    grouping: Grouping | None


class RootCauseCandidate(BaseModel):
    service: str
    score: int = Field(ge=0, le=100)
    #: Services with alerts below it in the graph (0: none of its dependencies fail).
    failing_dependencies: int
    first_seen: datetime
    alerts: int
    related_change_score: int | None = None
    reasons: list[str]


class AffectedService(BaseModel):
    service: str
    alerts: int
    firing: int
    #: Hops from the root cause through its dependents; None when not on its path.
    distance: int | None = None


class Correlation(BaseModel):
    change_id: uuid.UUID
    score: int = Field(ge=0, le=100)
    parts: dict[str, Any]
    verdict: Verdict | None
    verdict_by: str | None
    verdict_at: datetime | None
    change: Change


class IncidentSummary(BaseModel):
    id: uuid.UUID
    number: int
    title: str
    status: IncidentStatus
    severity: Severity
    severity_override: Severity | None
    environment: str | None
    root_cause: str | None = Field(description="Slug of the top root-cause candidate")
    assignee: str | None = Field(description="The assignee's email")
    alert_count: int
    firing_count: int
    services: list[str]
    opened_at: datetime
    last_alert_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    hold_open: bool
    merged_into: int | None = Field(description="Number of the incident it was merged into")


class Incident(IncidentSummary):
    title_edited: bool
    root_cause_candidates: list[RootCauseCandidate]
    affected: list[AffectedService]
    mitigated_at: datetime | None
    quiet_since: datetime | None
    mtta_seconds: int | None
    mttr_seconds: int | None
    created_at: datetime
    updated_at: datetime


class TimelineEvent(BaseModel):
    id: uuid.UUID
    kind: EventKind
    at: datetime
    actor: str
    summary: str
    data: dict[str, Any]


class Change(BaseModel):
    id: uuid.UUID
    type: ChangeType
    source: ChangeSource
    external_id: str | None
    service: str | None
    environment: str | None
    version: str | None
    previous_version: str | None
    title: str
    description: str
    author: str
    happened_at: datetime
    url: str | None
    deployment_id: uuid.UUID | None
    created_at: datetime


Correlation.model_rebuild()
