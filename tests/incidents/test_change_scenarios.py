"""The issue's change scenario through the grouping pipeline: a deployment 15 minutes
before the first alert on the failing service outranks one 100 minutes before on an
unrelated service, on the incident's related changes, its root cause and its timeline;
and a change recorded while the incident runs joins it."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from loom.audit.service import Actor
from loom.incidents import changes
from loom.incidents.change_schemas import ChangeCreate
from loom.incidents.kinds import ChangeSource, ChangeType
from loom.incidents.models import Change, IncidentEvent
from tests.conftest import Tenant
from tests.incidents.pipeline_support import T0, AlertSpec, build_shop, fire, incidents


async def record(
    app: FastAPI, tenant: Tenant, service: str, version: str, at: datetime, now: datetime
) -> Change:
    async with app.state.runtime.sessions() as s, s.begin():
        return await changes.record_change(
            s, Actor.system("ci"), tenant.org_id,
            ChangeCreate(type=ChangeType.DEPLOYMENT, service=service, environment="production",
                         version=version, happened_at=at, title=f"{service} {version}"),
            source=ChangeSource.JENKINS, now=now, settings=app.state.runtime.settings.incidents,
        )  # fmt: skip


async def test_a_recent_deployment_on_the_failing_service_is_the_related_change(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    await build_shop(client, tenant.headers["operator-a"])
    near = await record(app, tenant, "orders", "7.1", T0 - timedelta(minutes=15), T0)
    far = await record(app, tenant, "search", "2.0", T0 - timedelta(minutes=100), T0)
    await fire(
        app, tenant.org_id,
        [AlertSpec("OrdersErrors", "orders"), AlertSpec("ApiErrors", "api", timedelta(minutes=1)),
         AlertSpec("WebErrors", "web", timedelta(minutes=2))],
    )  # fmt: skip
    [incident] = await incidents(app, tenant.org_id)
    related = await client.get(
        f"/api/v1/incidents/{incident.number}/changes", headers=admin_headers
    )
    assert related.status_code == 200, related.text
    items = related.json()["items"]
    assert [i["change_id"] for i in items] == [str(near.id), str(far.id)]
    assert items[0]["score"] > items[1]["score"]
    assert items[0]["parts"]["service"] == 1.0 and items[1]["parts"]["service"] == 0.0
    top = incident.root_cause[0]
    assert top["service"] == "orders"
    assert top["related_change_score"] == items[0]["score"]
    async with app.state.runtime.sessions() as s:
        events = list(
            await s.scalars(
                select(IncidentEvent).where(
                    IncidentEvent.incident_id == incident.id, IncidentEvent.kind == "change"
                )
            )
        )
    assert [(e.data["change_id"], e.at) for e in events] == [(str(near.id), near.happened_at)]


async def test_a_change_recorded_while_the_incident_runs_joins_it(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    await build_shop(client, tenant.headers["operator-a"])
    await fire(
        app, tenant.org_id,
        [AlertSpec("DbDown", "orders-db"), AlertSpec("OrdersErrors", "orders", timedelta(minutes=3))],
    )  # fmt: skip
    # Reported late: a database upgrade an hour before the first alert.
    late = await record(
        app, tenant, "orders-db", "15.2", T0 - timedelta(minutes=60), T0 + timedelta(minutes=5)
    )
    related = await client.get("/api/v1/incidents/1/changes", headers=admin_headers)
    [item] = related.json()["items"]
    assert item["change_id"] == str(late.id) and item["parts"]["service"] == 1.0
    # The root-cause ranking counts it at once, not at the next alert.
    [incident] = await incidents(app, tenant.org_id)
    top = incident.root_cause[0]
    assert top["service"] == "orders-db"
    assert top["related_change_score"] == item["score"]
    async with app.state.runtime.sessions() as s:
        kinds = list(
            await s.scalars(select(IncidentEvent.kind).where(IncidentEvent.kind == "change"))
        )
    assert kinds == ["change"]
