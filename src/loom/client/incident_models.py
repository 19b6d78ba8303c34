"""The shapes of the incidents API's answers as the client reads them: incidents (a list
row and the full record), their alerts and timeline events. Unknown fields are kept
(`ApiModel`), and most fields have a default, so a newer server does not break the client.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from loom.client.models import ApiModel


class IncidentSummary(ApiModel):
    id: uuid.UUID
    number: int
    title: str
    status: str
    severity: str
    severity_override: str | None = None
    environment: str | None = None
    #: Slug of the top root-cause candidate.
    root_cause: str | None = None
    #: The assignee's email.
    assignee: str | None = None
    alert_count: int = 0
    firing_count: int = 0
    services: list[str] = []
    opened_at: datetime
    last_alert_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    hold_open: bool = False
    #: Number of the incident it was merged into.
    merged_into: int | None = None

    @property
    def ref(self) -> str:
        return f"INC-{self.number}"


class Incident(IncidentSummary):
    title_edited: bool = False
    root_cause_candidates: list[dict[str, Any]] = []
    affected: list[dict[str, Any]] = []
    mitigated_at: datetime | None = None
    quiet_since: datetime | None = None
    mtta_seconds: int | None = None
    mttr_seconds: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class TimelineEvent(ApiModel):
    id: uuid.UUID
    kind: str
    at: datetime
    actor: str
    summary: str = ""
    data: dict[str, Any] = {}
