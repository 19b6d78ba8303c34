"""Helpers for the change tests: alert sources, changes over the API, incident rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI

from loom.incidents.kinds import IncidentStatus
from loom.incidents.models import Alert, Incident
from loom.incidents.tally import Tally

CHANGES = "/api/v1/changes"


def fields_of(response: httpx.Response) -> list[str]:
    return [d["field"] for d in response.json()["error"]["details"]]


async def make_source(
    client: httpx.AsyncClient, admin: dict[str, str], kind: str, name: str | None = None
) -> dict[str, Any]:
    """A registered source: its id, token and hmac_secret."""
    response = await client.post(
        "/api/v1/alert-sources", json={"name": name or kind, "kind": kind}, headers=admin
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def add_change(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post(CHANGES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def open_incident(
    app: FastAPI, org_id: uuid.UUID, services: list[uuid.UUID], *, opened_at: datetime,
    last_alert_at: datetime, number: int = 1, environment: str | None = "production",
) -> uuid.UUID:  # fmt: skip
    """An open incident with one firing alert per service (and the tallies to match, as
    ingestion keeps them)."""
    async with app.state.runtime.sessions() as s, s.begin():
        incident = Incident(
            org_id=org_id, number=number, title="trouble", status=IncidentStatus.TRIGGERED.value,
            severity="critical", environment=environment, service_ids=[str(i) for i in services],
            opened_at=opened_at, last_alert_at=last_alert_at,
        )  # fmt: skip
        s.add(incident)
        await s.flush()
        counts = Tally()
        for service_id in services:
            alert = Alert(
                org_id=org_id, source_kind="generic", fingerprint=uuid.uuid4().hex,
                status="firing", severity="critical", name="Errors", service_id=service_id,
                environment=environment, starts_at=opened_at, first_seen=opened_at,
                last_seen=opened_at, incident_id=incident.id,
            )  # fmt: skip
            s.add(alert)
            counts.add(alert)
        incident.stats = counts.to_json()
        incident.alert_count = incident.firing_count = len(services)
        return incident.id
