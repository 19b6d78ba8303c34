"""POST/GET /changes, /changes/frequency, and an incident's related changes over the API:
validation (400 naming fields), who may record, dedupe, the registry's version matrix,
filters, correlation of open incidents and verdicts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from loom.audit.service import Actor
from loom.incidents import changes
from loom.incidents.change_schemas import ChangeCreate
from loom.incidents.kinds import ChangeSource, ChangeType
from loom.incidents.models import Change, Incident, IncidentEvent
from loom.services.models import Service, ServiceDeployment
from tests.conftest import Tenant
from tests.incidents.change_support import (
    CHANGES,
    add_change,
    fields_of,
    make_source,
    open_incident,
)
from tests.services.support import depend, register


async def test_malformed_changes_are_400s_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    await register(client, tenant.headers["operator-a"], "api")
    future = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    cases = [
        ({"service": "api"}, ["type"]),
        ({"type": "rollout"}, ["type"]),
        ({"type": "deployment", "happened_at": "2026-01-01T10:00:00"}, ["happened_at"]),
        ({"type": "deployment", "happened_at": future}, ["happened_at"]),
        ({"type": "deployment", "service": "nope"}, ["service"]),
        ({"type": "config", "url": "not a url"}, ["url"]),
        ({"type": "config", "colour": "red"}, ["colour"]),
        ({"type": "deployment", "service": "api", "environment": "moon", "version": "1"},
         ["environment"]),
    ]  # fmt: skip
    for body, fields in cases:
        response = await client.post(CHANGES, json=body, headers=admin_headers)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert fields_of(response) == fields, body
    for raw in (b"{not json", b"[1, 2]"):
        response = await client.post(
            CHANGES, content=raw, headers={**admin_headers, "content-type": "application/json"}
        )
        assert response.status_code == 400 and fields_of(response) == ["body"]
    count = await client.get(CHANGES, headers=admin_headers)
    assert count.json()["items"] == []


async def test_who_may_record_a_change(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await register(client, tenant.headers["operator-a"], "api")
    ok = await add_change(client, tenant.headers["operator-a"], type="config", service="api")
    assert (ok["author"], ok["source"], ok["service"]) == ("operator-a@loom.test", "api", "api")
    for who, body in [
        ("viewer-a", {"type": "config", "service": "api"}),
        ("operator-b", {"type": "config", "service": "api"}),  # another team's service
        ("operator-a", {"type": "config"}),  # no service: needs an organisation operator
    ]:
        response = await client.post(CHANGES, json=body, headers=tenant.headers[who])
        assert response.status_code == 403, (who, response.text)
    anonymous = await client.post(CHANGES, json={"type": "config"})
    assert anonymous.status_code == 401


async def test_a_repeat_of_an_external_id_returns_the_first_change(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    body = {"type": "config", "external_id": "cfg-42", "title": "first"}
    first = await add_change(client, admin_headers, **body)
    again = await add_change(client, admin_headers, **{**body, "title": "second"})
    assert again["id"] == first["id"] and again["title"] == "first"
    keyed = {**admin_headers, "Idempotency-Key": "k-1"}
    one = await client.post(CHANGES, json={"type": "scaling"}, headers=keyed)
    two = await client.post(CHANGES, json={"type": "scaling"}, headers=keyed)
    assert one.status_code == two.status_code == 201 and one.json()["id"] == two.json()["id"]
    async with app.state.runtime.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Change)) == 2
    audit = await client.get(
        "/api/v1/audit", params={"action": "change.create"}, headers=admin_headers
    )
    assert len(audit.json()["items"]) == 2


async def test_a_deployment_updates_the_version_matrix_and_knows_the_previous_version(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    operator = tenant.headers["operator-a"]
    await register(client, operator, "api")
    first = await add_change(
        client, operator, type="deployment", service="api", environment="production",
        version="1.0.0", commit_sha="abcdef1234",
    )  # fmt: skip
    assert first["previous_version"] is None and first["deployment_id"] is not None
    second = await add_change(
        client, operator, type="deployment", service="api", environment="production",
        version="1.1.0", url="https://ci.test/runs/9",
    )  # fmt: skip
    assert second["previous_version"] == "1.0.0"
    matrix = await client.get("/api/v1/services/versions", headers=operator)
    [row] = [r for r in matrix.json()["items"] if r["service"] == "api"]
    assert row["versions"]["production"]["version"] == "1.1.0"
    assert row["versions"]["production"]["deployed_by"] == "operator-a@loom.test"
    history = await client.get("/api/v1/services/api/deployments", headers=operator)
    assert [d["version"] for d in history.json()["items"]] == ["1.1.0", "1.0.0"]
    assert history.json()["items"][1]["commit_sha"] == "abcdef1234"
    # A config change records no deployment.
    config = await add_change(client, operator, type="config", service="api",
                              environment="production", version="flags-7")  # fmt: skip
    assert config["deployment_id"] is None


async def test_list_filters_newest_first_and_reads_one(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    await register(client, tenant.headers["operator-a"], "api")
    now = datetime.now(UTC)
    made = {}
    for hours, type_, env in [(5, "config", "staging"), (3, "deployment", "production"),
                              (1, "scaling", "production")]:  # fmt: skip
        made[type_] = await add_change(
            client, admin_headers, type=type_, service="api", environment=env,
            happened_at=(now - timedelta(hours=hours)).isoformat(),
        )  # fmt: skip
    await add_change(client, admin_headers, type="config", title="no service")

    async def ids(**params: str) -> list[str]:
        response = await client.get(CHANGES, params=params, headers=tenant.headers["viewer-b"])
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    listed = await ids(service="api")
    assert listed == [made["scaling"]["id"], made["deployment"]["id"], made["config"]["id"]]
    assert await ids(type="config", service="api") == [made["config"]["id"]]
    assert await ids(environment="production") == [made["scaling"]["id"], made["deployment"]["id"]]
    since = (now - timedelta(hours=4)).isoformat()
    until = (now - timedelta(hours=2)).isoformat()
    assert await ids(since=since, until=until) == [made["deployment"]["id"]]
    unknown = await client.get(CHANGES, params={"service": "nope"}, headers=admin_headers)
    assert unknown.status_code == 400 and fields_of(unknown) == ["service"]
    one = await client.get(f"{CHANGES}/{made['config']['id']}", headers=admin_headers)
    assert one.json() == made["config"]
    missing = await client.get(f"{CHANGES}/{uuid.uuid4()}", headers=admin_headers)
    assert missing.status_code == 404


async def test_frequency_counts_changes_per_service_over_7_and_30_days(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    for slug in ("api", "web"):
        await register(client, tenant.headers["operator-a"], slug)
    now = datetime.now(UTC)
    for slug, days in [("api", 1), ("api", 2), ("api", 10), ("web", 20), ("web", 40),
                       (None, 3)]:  # fmt: skip
        body = {"type": "config", "happened_at": (now - timedelta(days=days)).isoformat()}
        await add_change(client, admin_headers, **body, **({"service": slug} if slug else {}))
    response = await client.get(f"{CHANGES}/frequency", headers=tenant.headers["viewer-a"])
    assert response.status_code == 200, response.text
    assert response.json()["items"] == [
        {"service": "api", "last_7_days": 2, "last_30_days": 3},
        {"service": None, "last_7_days": 1, "last_30_days": 1},
        {"service": "web", "last_7_days": 0, "last_30_days": 1},
    ]


async def test_a_source_token_of_a_change_source_records_changes(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    await register(client, tenant.headers["operator-a"], "api")
    jenkins = await make_source(client, admin_headers, "jenkins")
    alerts = await make_source(client, admin_headers, "alertmanager")
    body = {"type": "deployment", "service": "api", "environment": "staging", "version": "2"}
    made = await add_change(client, {"Authorization": f"Bearer {jenkins['token']}"}, **body)
    assert (made["source"], made["author"]) == ("jenkins", "jenkins")
    refused = await client.post(
        CHANGES, json=body, headers={"Authorization": f"Bearer {alerts['token']}"}
    )
    assert refused.status_code == 403
    bad = await client.post(CHANGES, json=body, headers={"Authorization": "Bearer lsrc_nope"})
    assert bad.status_code == 401


async def test_a_change_correlates_open_incidents_and_engineers_judge_it(
    client: httpx.AsyncClient, app: FastAPI, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    operator = tenant.headers["operator-a"]
    for slug in ("api", "db", "billing"):
        await register(client, operator, slug)
    await depend(client, operator, "api", target="db")
    async with app.state.runtime.sessions() as s:
        ids = {slug: sid for slug, sid in await s.execute(select(Service.slug, Service.id))}
    now = datetime.now(UTC)
    incident_id = await open_incident(
        app, tenant.org_id, [ids["api"]], opened_at=now - timedelta(minutes=5),
        last_alert_at=now - timedelta(minutes=1),
    )  # fmt: skip
    near = await add_change(
        client, operator, type="deployment", service="api", environment="production",
        version="9", happened_at=(now - timedelta(minutes=20)).isoformat(),
    )  # fmt: skip
    below = await add_change(
        client, operator, type="config", service="db", environment="production",
        happened_at=(now - timedelta(minutes=30)).isoformat(),
    )  # fmt: skip
    await add_change(  # long before the incident: not related
        client, operator, type="deployment", service="api",
        happened_at=(now - timedelta(hours=5)).isoformat(),
    )  # fmt: skip
    related = await client.get(
        "/api/v1/incidents/INC-1/changes", headers=tenant.headers["viewer-b"]
    )
    assert related.status_code == 200, related.text
    items = related.json()["items"]
    assert [i["change_id"] for i in items] == [near["id"], below["id"]]
    assert items[0]["score"] > items[1]["score"] > 0
    assert items[0]["change"]["version"] == "9" and items[1]["parts"]["service"] == 0.6
    assert items[0]["parts"]["reasons"]
    async with app.state.runtime.sessions() as s:
        events = list(
            await s.scalars(
                select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident_id)
            )
        )
    assert events.count("change") == 2
    # The incident's root-cause ranking counts the best change on its service.
    async with app.state.runtime.sessions() as s:
        incident = await s.get(Incident, incident_id)
        assert incident is not None
    assert incident.root_cause[0]["service"] == "api"
    assert incident.root_cause[0]["related_change_score"] == items[0]["score"]
    verdict_url = f"/api/v1/incidents/1/changes/{below['id']}/verdict"
    viewer = await client.post(
        verdict_url, json={"verdict": "rejected"}, headers=tenant.headers["viewer-a"]
    )
    assert viewer.status_code == 403
    judged = await client.post(
        verdict_url, json={"verdict": "rejected", "note": "db was fine"}, headers=admin_headers
    )
    assert judged.status_code == 200, judged.text
    assert (judged.json()["verdict"], judged.json()["verdict_by"]) == (
        "rejected",
        "admin@loom.test",
    )
    bad = await client.post(verdict_url, json={"verdict": "maybe"}, headers=admin_headers)
    assert bad.status_code == 422
    async with app.state.runtime.sessions() as s:
        timeline_kinds = list(
            await s.scalars(
                select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident_id)
            )
        )
    assert timeline_kinds.count("correlation_verdict") == 1
    audit = await client.get(
        "/api/v1/audit", params={"action": "incident.correlation_verdict"}, headers=admin_headers
    )
    assert len(audit.json()["items"]) == 1


async def test_a_delivery_racing_another_returns_the_change_that_won(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup of the repeat missed the row another transaction committed: the
    insert's conflict is caught, nothing else is written, the first change answers."""
    await register(client, tenant.headers["operator-a"], "api")
    data = ChangeCreate(
        type=ChangeType.DEPLOYMENT, service="api", environment="staging", version="4.0",
        external_id="deploy-1",
    )  # fmt: skip
    actor = Actor.system("ci")

    async def record() -> uuid.UUID:
        async with app.state.runtime.sessions() as s, s.begin():
            made = await changes.record_change(
                s, actor, tenant.org_id, data, source=ChangeSource.JENKINS, now=datetime.now(UTC)
            )
            return made.id

    winner = await record()
    real_first = changes._first
    calls = []

    async def missed_once(*args: Any) -> Change | None:
        calls.append(args)
        return None if len(calls) == 1 else await real_first(*args)

    monkeypatch.setattr(changes, "_first", missed_once)
    assert await record() == winner
    assert len(calls) == 2
    async with app.state.runtime.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Change)) == 1
        assert await s.scalar(select(func.count()).select_from(ServiceDeployment)) == 1


async def test_openapi_describes_the_change_body(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    body = spec["paths"]["/api/v1/changes"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    assert schema["required"] == ["type"]
    assert "deployment" in schema["properties"]["type"]["enum"]
    assert "$ref" not in str(schema)
