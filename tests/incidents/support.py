"""Helpers for the incident tests: read an incident's rows, timeline and audit entries."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from loom.audit.models import AuditEntry
from loom.incidents.models import Alert, Incident, IncidentEvent

INCIDENTS = "/api/v1/incidents"


async def row(app: FastAPI, incident_id: uuid.UUID) -> Incident:
    async with app.state.runtime.sessions() as s:
        found = await s.get(Incident, incident_id)
        assert found is not None
        return found


async def events(app: FastAPI, incident_id: uuid.UUID) -> list[IncidentEvent]:
    async with app.state.runtime.sessions() as s:
        stmt = select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
        return list(await s.scalars(stmt.order_by(IncidentEvent.at, IncidentEvent.created_at)))


async def audits(app: FastAPI, incident_id: uuid.UUID) -> list[AuditEntry]:
    async with app.state.runtime.sessions() as s:
        stmt = select(AuditEntry).where(
            AuditEntry.target_type == "incident", AuditEntry.target_id == str(incident_id)
        )
        return list(await s.scalars(stmt.order_by(AuditEntry.seq)))


async def alerts_of(app: FastAPI, incident_id: uuid.UUID) -> list[Alert]:
    async with app.state.runtime.sessions() as s:
        return list(await s.scalars(select(Alert).where(Alert.incident_id == incident_id)))


def snapshot(incident: Incident) -> dict[str, Any]:
    """The columns a refused action must leave as they were."""
    keep = ("status", "title", "title_edited", "severity", "severity_override", "assignee_id",
            "hold_open", "acknowledged_at", "mitigated_at", "resolved_at", "mtta_seconds",
            "mttr_seconds", "merged_into_id", "quiet_since")  # fmt: skip
    return {k: getattr(incident, k) for k in keep}
