"""Feeding alerts straight into the grouping pipeline (below the HTTP endpoints), and a
small shop whose dependency graph the scenarios use."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from loom.incidents import pipeline
from loom.incidents.models import Alert, Incident
from loom.services.models import Service
from tests.services.support import depend, register

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

#: caller -> callees. orders-db is the shop's database; search is another world.
SHOP = {
    "web": ["api"],
    "api": ["orders", "inventory", "payments"],
    "checkout": ["orders", "payments"],
    "orders": ["orders-db"],
    "inventory": ["orders-db"],
    "payments": ["payments-db"],
    "orders-db": [],
    "payments-db": [],
    "search": ["search-index"],
    "search-index": [],
}


async def build_shop(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for slug in SHOP:
        await register(client, headers, slug)
    for slug, targets in SHOP.items():
        for target in targets:
            await depend(client, headers, slug, target=target)


@dataclass
class AlertSpec:
    name: str
    service: str | None
    at: timedelta = timedelta(0)
    severity: str = "critical"
    labels: dict[str, str] = field(default_factory=dict)
    fingerprint: str | None = None


async def fire(
    app: FastAPI, org_id: uuid.UUID, specs: list[AlertSpec], *, now: datetime | None = None
) -> list[Alert]:
    """Store `specs` as new firing alerts (starting T0 + at) and run the pipeline on them."""
    settings = app.state.runtime.settings.incidents
    async with app.state.runtime.sessions() as s, s.begin():
        await pipeline.lock_alerts(s, org_id)
        slugs = {x.service for x in specs if x.service}
        ids = dict((await s.execute(
            select(Service.slug, Service.id).where(Service.org_id == org_id, Service.slug.in_(slugs))
        )).all())  # fmt: skip
        alerts = []
        for x in specs:
            starts = T0 + x.at
            alerts.append(
                Alert(
                    org_id=org_id, source_kind="generic",
                    fingerprint=x.fingerprint or uuid.uuid4().hex, status="firing",
                    severity=x.severity, name=x.name,
                    labels={"alertname": x.name, **({"service": x.service} if x.service else {}),
                            **x.labels},
                    annotations={}, service_id=ids.get(x.service) if x.service else None,
                    starts_at=starts, first_seen=starts, last_seen=starts,
                )
            )  # fmt: skip
        s.add_all(alerts)  # not flushed: the pipeline writes them with their incident
        when = now or max(T0 + x.at for x in specs) + timedelta(seconds=5)
        await pipeline.process(
            s, org_id, pipeline.StoredBatch(opened=alerts), settings=settings, now=when
        )
    return alerts


async def incidents(app: FastAPI, org_id: uuid.UUID) -> list[Incident]:
    async with app.state.runtime.sessions() as s:
        rows = await s.scalars(
            select(Incident).where(Incident.org_id == org_id).order_by(Incident.number)
        )
        return list(rows)


async def alerts_of(app: FastAPI, incident: Incident) -> list[dict[str, Any]]:
    async with app.state.runtime.sessions() as s:
        rows = await s.scalars(select(Alert).where(Alert.incident_id == incident.id))
        return [{"name": a.name, "grouping": a.grouping, "service_id": a.service_id} for a in rows]


async def _again(
    app: FastAPI, org_id: uuid.UUID, alerts: list[Alert], now: datetime, as_: str
) -> None:
    """`alerts` seen again at `now` (`as_`: "resolved", "refired" or "repeated"), then
    the pipeline run on them as that list of a batch."""
    settings = app.state.runtime.settings.incidents
    async with app.state.runtime.sessions() as s, s.begin():
        await pipeline.lock_alerts(s, org_id)
        rows = list(await s.scalars(select(Alert).where(Alert.id.in_([a.id for a in alerts]))))
        for row in rows:
            row.last_seen, row.count = now, row.count + 1
            if as_ == "resolved":
                row.status, row.ends_at = "resolved", now
            elif as_ == "refired":
                row.status, row.ends_at = "firing", None
        batch = pipeline.StoredBatch(**{as_: rows})
        await pipeline.process(s, org_id, batch, settings=settings, now=now)


async def resolve(app: FastAPI, org_id: uuid.UUID, alerts: list[Alert], *, now: datetime) -> None:
    """`alerts` resolved at `now`."""
    await _again(app, org_id, alerts, now, "resolved")


async def refire(app: FastAPI, org_id: uuid.UUID, alerts: list[Alert], *, now: datetime) -> None:
    """`alerts` (resolved) firing again at `now`."""
    await _again(app, org_id, alerts, now, "refired")


async def repeat(app: FastAPI, org_id: uuid.UUID, alerts: list[Alert], *, now: datetime) -> None:
    """`alerts` seen again, still firing, at `now`."""
    await _again(app, org_id, alerts, now, "repeated")
