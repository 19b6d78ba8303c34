"""Change correlation: the pure score (its parts, the window's edges, the issue's
15-minute-versus-100-minute scenario) and `correlate` over stored changes and incidents
(dependencies count, verdicts survive, stale suggestions go)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select

from loom.auth.models import User
from loom.auth.principal import load_principal
from loom.errors import Forbidden, NotFound
from loom.incidents import correlation
from loom.incidents.kinds import ChangeType, IncidentStatus, Verdict
from loom.incidents.models import Change, ChangeCorrelation, Incident, IncidentEvent
from loom.incidents.topology import Topology
from loom.services.models import Service
from loom.settings import IncidentSettings
from tests.conftest import Tenant
from tests.services.support import depend, register

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=120)
API, DB, OTHER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def change(
    minutes_before: float, *, service: uuid.UUID | None = API, env: str | None = "production",
    type: ChangeType = ChangeType.DEPLOYMENT,
) -> Change:  # fmt: skip
    return Change(
        id=uuid.uuid4(), type=type.value, service_id=service, environment=env,
        happened_at=T0 - timedelta(minutes=minutes_before),
    )  # fmt: skip


def scored(c: Change, *, env: str | None = "production") -> correlation.Score:
    return correlation.score(
        c, first_alert_at=T0, incident_service_ids={API}, upstream_ids={DB},
        environment=env, window=WINDOW,
    )  # fmt: skip


def test_a_deployment_15_min_before_on_the_service_beats_one_100_min_before_elsewhere() -> None:
    near = scored(change(15, service=API))
    far = scored(change(100, service=OTHER))
    assert near.total > far.total
    assert near.total >= 80 and far.total <= 40
    assert near.service == 1.0 and far.service == 0.0
    assert "15 min before the first alert" in near.reasons[0]
    assert "not related" in far.reasons[1]


def test_parts_add_up_with_their_weights() -> None:
    s = scored(change(60, service=DB, type=ChangeType.CONFIG))
    assert s.time == pytest.approx(0.5)
    assert (s.service, s.environment, s.type) == (0.6, 1.0, 0.8)
    assert s.total == round(40 * 0.5 + 35 * 0.6 + 10 * 1.0 + 15 * 0.8)
    assert "depend on" in s.reasons[1]
    assert set(s.parts()) == {"time", "service", "environment", "type", "reasons"}


def test_change_types_rank_deployment_config_scaling() -> None:
    totals = [scored(change(10, type=t)).total for t in
              (ChangeType.DEPLOYMENT, ChangeType.CONFIG, ChangeType.SCALING)]  # fmt: skip
    assert totals == sorted(totals, reverse=True) and len(set(totals)) == 3


def test_environment_same_unknown_other() -> None:
    same = scored(change(10, env="production"))
    unknown = scored(change(10, env=None))
    other = scored(change(10, env="staging"))
    assert (same.environment, unknown.environment, other.environment) == (1.0, 0.5, 0.0)
    assert scored(change(10), env=None).environment == 0.5
    assert same.total > unknown.total > other.total


def test_window_edges() -> None:
    at_alert = scored(change(0))
    assert at_alert.time == 1.0 and at_alert.total == 100
    at_edge = scored(change(120))
    assert at_edge.time == 0.0 and at_edge.total == 0
    just_inside = scored(change(119))
    assert 0 < just_inside.time < 0.01 and just_inside.total > 0
    outside = scored(change(121))
    assert outside.total == 0 and "outside" in outside.reasons[0]


def test_a_change_after_the_first_alert_scores_a_little_time() -> None:
    after = scored(change(-10))
    assert after.time == correlation.DURING_INCIDENT_FACTOR
    assert "after the first alert" in after.reasons[0]
    assert 0 < after.total < scored(change(10)).total


# --- correlate over stored rows -------------------------------------------------------


async def _setup(client: httpx.AsyncClient, tenant: Tenant) -> None:
    operator = tenant.headers["operator-a"]
    for slug in ("web", "api", "db", "billing"):
        await register(client, operator, slug)
    await depend(client, operator, "web", target="api")
    await depend(client, operator, "api", target="db")


async def _ids(app: FastAPI) -> dict[str, uuid.UUID]:
    async with app.state.runtime.sessions() as s:
        return {slug: sid for slug, sid in (await s.execute(select(Service.slug, Service.id)))}


async def _incident(app: FastAPI, org_id: uuid.UUID, services: list[uuid.UUID]) -> uuid.UUID:
    async with app.state.runtime.sessions() as s, s.begin():
        incident = Incident(
            org_id=org_id, number=1, title="web down", status=IncidentStatus.TRIGGERED.value,
            severity="critical", environment="production",
            service_ids=[str(i) for i in services], opened_at=T0, last_alert_at=T0 + timedelta(minutes=5),
        )  # fmt: skip
        s.add(incident)
        await s.flush()
        return incident.id


async def _change(
    app: FastAPI, org_id: uuid.UUID, service: uuid.UUID | None, minutes_before: float,
    type: ChangeType = ChangeType.DEPLOYMENT,
) -> uuid.UUID:  # fmt: skip
    async with app.state.runtime.sessions() as s, s.begin():
        c = Change(
            org_id=org_id, type=type.value, source="api", service_id=service,
            environment="production", author="ci", happened_at=T0 - timedelta(minutes=minutes_before),
        )  # fmt: skip
        s.add(c)
        await s.flush()
        return c.id


async def _correlate(app: FastAPI, incident_id: uuid.UUID) -> dict[uuid.UUID, int]:
    async with app.state.runtime.sessions() as s, s.begin():
        incident = await s.get(Incident, incident_id)
        assert incident is not None
        return await correlation.correlate(s, incident, settings=IncidentSettings(), now=T0)


async def _rows(app: FastAPI, incident_id: uuid.UUID) -> dict[uuid.UUID, ChangeCorrelation]:
    async with app.state.runtime.sessions() as s:
        rows = await s.scalars(
            select(ChangeCorrelation).where(ChangeCorrelation.incident_id == incident_id)
        )
        return {r.change_id: r for r in rows}


async def test_correlate_scores_own_and_dependency_changes_and_returns_best_per_service(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _setup(client, tenant)
    ids = await _ids(app)
    incident_id = await _incident(app, tenant.org_id, [ids["web"]])
    on_web = await _change(app, tenant.org_id, ids["web"], 15)
    on_web_older = await _change(app, tenant.org_id, ids["web"], 90)
    on_db = await _change(app, tenant.org_id, ids["db"], 15)  # two hops below web
    on_billing = await _change(app, tenant.org_id, ids["billing"], 15)
    too_old = await _change(app, tenant.org_id, ids["web"], 180)
    faint = await _change(app, tenant.org_id, ids["billing"], 100)  # listed, not on the timeline
    best = await _correlate(app, incident_id)
    rows = await _rows(app, incident_id)
    assert set(rows) == {on_web, on_web_older, on_db, on_billing, faint}
    assert too_old not in rows
    assert 0 < rows[faint].score < correlation.TIMELINE_MIN_SCORE
    assert rows[on_db].parts["service"] == 0.6
    assert rows[on_billing].parts["service"] == 0.0
    assert rows[on_web].score > rows[on_db].score > rows[on_billing].score
    async with app.state.runtime.sessions() as s:
        events = list(await s.scalars(select(IncidentEvent).order_by(IncidentEvent.at)))
    # Each suggestion is on the timeline once, at the change's time; a second pass adds none.
    assert sorted(e.data["change_id"] for e in events) == sorted(
        str(c) for c in set(rows) - {faint}
    )
    assert events[0].data["change_id"] == str(on_web_older)
    assert all(e.kind == "change" for e in events) and len(events) == 4
    assert {e.at for e in events} == {T0 - timedelta(minutes=m) for m in (15, 90)}
    await _correlate(app, incident_id)
    async with app.state.runtime.sessions() as s:
        assert len(list(await s.scalars(select(IncidentEvent.id)))) == 4
    assert best == {
        ids["web"]: rows[on_web].score, ids["db"]: rows[on_db].score,
        ids["billing"]: rows[on_billing].score,
    }  # fmt: skip


async def test_correlate_keeps_verdicts_and_drops_unjudged_rows_that_no_longer_score(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _setup(client, tenant)
    ids = await _ids(app)
    incident_id = await _incident(app, tenant.org_id, [ids["api"]])
    judged = await _change(app, tenant.org_id, ids["api"], 30)
    unjudged = await _change(app, tenant.org_id, ids["db"], 30)
    await _correlate(app, incident_id)
    async with app.state.runtime.sessions() as s, s.begin():
        user_id = await s.scalar(select(User.id).where(User.email == "admin@loom.test"))
        assert user_id is not None
        principal = await load_principal(s, user_id)
        incident = await s.get(Incident, incident_id)
        assert incident is not None
        await correlation.set_verdict(s, principal, incident, judged, Verdict.CONFIRMED, "it was")
    # Both changes move out of the window: the judged suggestion stays, the other goes.
    async with app.state.runtime.sessions() as s, s.begin():
        for cid in (judged, unjudged):
            c = await s.get(Change, cid)
            assert c is not None
            c.happened_at = T0 - timedelta(hours=5)
    assert await _correlate(app, incident_id) == {}
    rows = await _rows(app, incident_id)
    assert set(rows) == {judged}
    assert (rows[judged].verdict, rows[judged].verdict_note) == ("confirmed", "it was")
    async with app.state.runtime.sessions() as s:
        kinds = list(await s.scalars(select(IncidentEvent.kind)))
    assert sorted(kinds) == ["change", "change", "correlation_verdict"]


async def test_verdicts_need_an_operator_and_a_suggested_change(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _setup(client, tenant)
    ids = await _ids(app)
    incident_id = await _incident(app, tenant.org_id, [ids["api"]])
    suggested = await _change(app, tenant.org_id, ids["api"], 30)
    await _correlate(app, incident_id)
    async with app.state.runtime.sessions() as s, s.begin():
        incident = await s.get(Incident, incident_id)
        assert incident is not None
        viewer_id = await s.scalar(select(User.id).where(User.email == "viewer-a@loom.test"))
        assert viewer_id is not None
        viewer = await load_principal(s, viewer_id)
        with pytest.raises(Forbidden):
            await correlation.set_verdict(s, viewer, incident, suggested, Verdict.REJECTED)
        admin_id = await s.scalar(select(User.id).where(User.email == "admin@loom.test"))
        assert admin_id is not None
        admin = await load_principal(s, admin_id)
        with pytest.raises(NotFound):
            await correlation.set_verdict(s, admin, incident, uuid.uuid4(), Verdict.REJECTED)


async def test_correlate_reads_candidates_and_suggestions_in_one_query_each(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _setup(client, tenant)
    ids = await _ids(app)
    incident_id = await _incident(app, tenant.org_id, [ids["web"]])
    for slug in ("web", "api", "db", "billing", "web", "api"):
        await _change(app, tenant.org_id, ids[slug], 20)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split()[0].upper())

    engine = app.state.runtime.engine.sync_engine
    async with app.state.runtime.sessions() as s, s.begin():
        incident = await s.get(Incident, incident_id)
        assert incident is not None
        topology = await Topology.around(s, tenant.org_id, {ids["web"]}, 2)
        event.listen(engine, "before_cursor_execute", seen)
        try:
            best = await correlation.correlate(
                s, incident, settings=IncidentSettings(), now=T0, topology=topology
            )
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert set(best) == {ids["web"], ids["api"], ids["db"], ids["billing"]}
    assert statements.count("SELECT") == 2, statements
