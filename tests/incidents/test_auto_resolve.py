"""Incidents resolve themselves a grace period after their last alert resolved, unless
held open or an alert fired again."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from loom.auth.models import Organization
from loom.db.types import utcnow
from loom.incidents import auto_resolve
from loom.incidents.auto_resolve import resolve_quiet
from loom.incidents.kinds import IncidentStatus
from loom.platform.scheduler import JOBS
from loom.settings import IncidentSettings
from tests.conftest import Tenant
from tests.incidents.factories import create_incident
from tests.incidents.pipeline_support import (
    T0,
    AlertSpec,
    build_shop,
    fire,
    incidents,
    refire,
    resolve,
)
from tests.incidents.support import audits, events, row
from tests.services.support import other_org_admin

GRACE = IncidentSettings(resolve_grace_minutes=5)


async def _run(app: FastAPI, now_offset: timedelta = timedelta(0)) -> list[str]:
    async with app.state.runtime.sessions() as s, s.begin():
        done = await resolve_quiet(s, settings=GRACE, now=utcnow() + now_offset)
        return [f"INC-{i.number}" for i in done]


async def test_a_quiet_incident_resolves_after_the_grace_period(
    app: FastAPI, tenant: Tenant
) -> None:
    opened = utcnow() - timedelta(minutes=30)
    made = await create_incident(
        app, tenant.org_id, status=IncidentStatus.ACKNOWLEDGED, firing=False, opened_at=opened,
        quiet_since=utcnow() - timedelta(minutes=6),
    )  # fmt: skip
    assert await _run(app) == [made.ref]
    incident = await row(app, made.id)
    assert incident.status == "resolved"
    assert incident.resolved_at is not None
    assert incident.mttr_seconds is not None and incident.mttr_seconds >= 30 * 60
    assert incident.mtta_seconds is None  # the system acknowledges nothing
    (event,) = await events(app, made.id)
    assert event.kind == "resolved"
    assert event.actor == "system"
    assert event.data["reason"] == "all alerts resolved for 5 min"
    assert [(a.action, a.actor_type) for a in await audits(app, made.id)] == [
        ("incident.resolve", "system")
    ]
    assert await _run(app) == []  # once


async def test_within_the_grace_period_it_stays_open(app: FastAPI, tenant: Tenant) -> None:
    made = await create_incident(
        app, tenant.org_id, firing=False, quiet_since=utcnow() - timedelta(minutes=4)
    )
    assert await _run(app) == []
    assert (await row(app, made.id)).status == "triggered"
    assert await _run(app, timedelta(minutes=1, seconds=1)) == [made.ref]


async def test_held_open_it_stays_open(app: FastAPI, tenant: Tenant) -> None:
    made = await create_incident(
        app, tenant.org_id, firing=False, hold_open=True,
        quiet_since=utcnow() - timedelta(hours=2),
    )  # fmt: skip
    assert await _run(app) == []
    assert (await row(app, made.id)).status == "triggered"
    assert await events(app, made.id) == []


async def test_an_alert_firing_again_prevents_it(app: FastAPI, tenant: Tenant) -> None:
    # What the pipeline leaves when an alert fires again: firing, not quiet.
    refired = await create_incident(app, tenant.org_id, firing=True, quiet_since=None)
    # Firing again with a stale quiet_since still never resolves: firing_count decides.
    stale = await create_incident(
        app, tenant.org_id, firing=True, quiet_since=utcnow() - timedelta(hours=1)
    )
    assert await _run(app, timedelta(hours=1)) == []
    assert (await row(app, refired.id)).status == "triggered"
    assert (await row(app, stale.id)).status == "triggered"


async def test_resolved_incidents_are_left_alone(app: FastAPI, tenant: Tenant) -> None:
    quiet = utcnow() - timedelta(hours=1)
    resolved = await create_incident(
        app, tenant.org_id, status=IncidentStatus.RESOLVED, firing=False, quiet_since=quiet
    )
    assert await _run(app) == []
    assert await events(app, resolved.id) == []


async def test_a_zero_grace_period_resolves_at_once(app: FastAPI, tenant: Tenant) -> None:
    now = utcnow()
    made = await create_incident(app, tenant.org_id, firing=False, quiet_since=now)
    async with app.state.runtime.sessions() as s, s.begin():
        done = await resolve_quiet(s, settings=IncidentSettings(resolve_grace_minutes=0), now=now)
        assert [i.id for i in done] == [made.id]


async def test_the_periodic_job_is_registered_and_resolves(app: FastAPI, tenant: Tenant) -> None:
    (job,) = [j for j in JOBS if j.name == "incidents.auto_resolve"]
    assert job.interval(app.state.runtime.settings) == timedelta(seconds=30)
    made = await create_incident(
        app, tenant.org_id, firing=False, quiet_since=utcnow() - timedelta(hours=1)
    )
    await auto_resolve.auto_resolve(app.state.runtime)
    assert (await row(app, made.id)).status == "resolved"


async def test_every_organisation_is_resolved(app: FastAPI, tenant: Tenant) -> None:
    await other_org_admin(app)
    async with app.state.runtime.sessions() as s:
        other_org = await s.scalar(select(Organization.id).where(Organization.slug == "other-org"))
    assert other_org is not None
    quiet = utcnow() - timedelta(hours=1)
    ours = await create_incident(app, tenant.org_id, firing=False, quiet_since=quiet)
    theirs = await create_incident(app, other_org, firing=False, quiet_since=quiet)
    assert sorted(await _run(app)) == sorted([ours.ref, theirs.ref])  # both are INC-1
    assert (await row(app, theirs.id)).status == "resolved"
    assert [a.action for a in await audits(app, theirs.id)] == ["incident.resolve"]


async def test_through_the_pipeline_a_refire_in_the_grace_period_restarts_it(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_shop(client, tenant.headers["operator-a"])
    alerts = await fire(app, tenant.org_id, [AlertSpec("DiskFull", "orders-db")])
    (incident,) = await incidents(app, tenant.org_id)

    async def run_at(minutes: float) -> list[int]:
        async with app.state.runtime.sessions() as s, s.begin():
            now = T0 + timedelta(minutes=minutes)
            return [i.number for i in await resolve_quiet(s, settings=GRACE, now=now)]

    await resolve(app, tenant.org_id, alerts, now=T0 + timedelta(minutes=10))
    assert (await row(app, incident.id)).quiet_since == T0 + timedelta(minutes=10)
    assert await run_at(14) == []
    await refire(app, tenant.org_id, alerts, now=T0 + timedelta(minutes=14, seconds=30))
    assert await run_at(16) == []  # firing again
    await resolve(app, tenant.org_id, alerts, now=T0 + timedelta(minutes=17))
    assert await run_at(21) == []  # quiet for 4 min only
    assert await run_at(22) == [incident.number]
    assert (await row(app, incident.id)).status == "resolved"
