"""Grouping by hand: merge, split, move an alert. Alerts moved by a person say who moved
them and from where; both incidents get timeline events and end refreshed."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI

from loom.incidents import labels
from loom.incidents.kinds import IncidentStatus, Severity
from tests.conftest import Tenant
from tests.incidents.factories import create_incident
from tests.incidents.pipeline_support import AlertSpec, build_shop, fire, incidents
from tests.incidents.support import INCIDENTS, alerts_of, audits, events, row, snapshot
from tests.services.support import register

OPERATOR = "operator-a@loom.test"


async def test_merge_moves_every_alert_and_resolves_the_merged_one(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant.headers["operator-a"], "api")
    await register(client, tenant.headers["operator-a"], "db")
    into = await create_incident(app, tenant.org_id, services=["db"], alerts=2)
    merged = await create_incident(app, tenant.org_id, services=["api"], alerts=3)
    response = await client.post(
        f"{INCIDENTS}/{merged.ref}/merge", json={"into": into.ref, "note": "same outage"},
        headers=tenant.headers["operator-a"],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["number"] == into.number
    assert body["alert_count"] == 5  # refreshed
    assert sorted(body["services"]) == ["api", "db"]

    moved = await alerts_of(app, into.id)
    assert {a.id for a in moved} == set(into.alert_ids) | set(merged.alert_ids)
    for alert in moved:
        if alert.id in merged.alert_ids:
            assert alert.grouping == {
                "strategy": "manual", "text": f"merged by {OPERATOR} from {merged.ref}",
                "incident_number": into.number,
            }  # fmt: skip
    assert await alerts_of(app, merged.id) == []

    old = await row(app, merged.id)
    assert old.status == "resolved"
    assert old.merged_into_id == into.id
    assert old.alert_count == 0  # refreshed
    shown = await client.get(f"{INCIDENTS}/{merged.ref}", headers=tenant.headers["viewer-a"])
    assert shown.json()["merged_into"] == into.number
    assert [e.kind for e in await events(app, merged.id) if e.kind != "root_cause"] == [
        "resolved", "merged",
    ]  # fmt: skip
    (event,) = [e for e in await events(app, into.id) if e.kind == "merged"]
    assert event.data == {"from": merged.number, "alerts": 3, "note": "same outage"}
    assert event.actor == OPERATOR
    assert [a.action for a in await audits(app, merged.id)] == ["incident.merge"]


async def test_merge_refusals_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    a = await create_incident(app, tenant.org_id)
    closed = await create_incident(app, tenant.org_id, status=IncidentStatus.RESOLVED)
    before = snapshot(await row(app, a.id))
    url = f"{INCIDENTS}/{a.ref}/merge"
    operator = tenant.headers["operator-a"]
    cases = [
        ({"into": a.ref}, operator, 422, "into"),  # itself
        ({"into": closed.ref}, operator, 409, "into"),  # not open
        ({"into": "INC-999"}, operator, 404, None),
        ({"into": "INC-x"}, operator, 400, "incident"),
        ({}, operator, 422, "into"),
        ({"into": closed.ref}, tenant.headers["viewer-a"], 403, None),
    ]
    for body, headers, code, field in cases:
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == code, (body, response.text)
        if field:
            assert field in response.json()["error"]["details"][0]["field"]
    assert snapshot(await row(app, a.id)) == before
    assert set(a.alert_ids) == {x.id for x in await alerts_of(app, a.id)}
    assert await events(app, a.id) == [] and await audits(app, a.id) == []


async def test_split_opens_a_new_incident_with_the_alerts(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant.headers["operator-a"], "api")
    await register(client, tenant.headers["operator-a"], "web")
    source = await create_incident(
        app, tenant.org_id, services=["api", "web"], alerts=4,
        severities=[Severity.WARNING, Severity.CRITICAL],
        status=IncidentStatus.ACKNOWLEDGED,
    )  # fmt: skip
    leaving = source.alert_ids[:2]
    response = await client.post(
        f"{INCIDENTS}/{source.ref}/split", json={"alerts": [str(i) for i in leaving]},
        headers=tenant.headers["operator-a"],
    )  # fmt: skip
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["number"] == source.number + 1
    assert body["status"] == "triggered"
    assert body["alert_count"] == 2
    new_alerts = await alerts_of(app, uuid.UUID(body["id"]))
    assert {a.id for a in new_alerts} == set(leaving)
    assert all(
        a.grouping
        == {
            "strategy": "manual",
            "text": f"split by {OPERATOR} from {source.ref}",
            "incident_number": body["number"],
        }
        for a in new_alerts
    )
    left = await row(app, source.id)
    assert left.alert_count == 2  # refreshed
    assert left.status == "acknowledged"
    (split_event,) = [e for e in await events(app, source.id) if e.kind != "root_cause"]
    assert split_event.kind == "split"
    assert split_event.data["into"] == body["number"]
    created = [e for e in await events(app, uuid.UUID(body["id"])) if e.kind != "root_cause"]
    assert [e.kind for e in created] == ["incident_created"]
    assert created[0].data["from"] == source.number
    assert [a.action for a in await audits(app, source.id)] == ["incident.split"]


async def test_split_refusals(app: FastAPI, client: httpx.AsyncClient, tenant: Tenant) -> None:
    source = await create_incident(app, tenant.org_id, alerts=2)
    other = await create_incident(app, tenant.org_id, alerts=1)
    url = f"{INCIDENTS}/{source.ref}/split"
    headers = tenant.headers["operator-a"]
    for alerts in ([str(other.alert_ids[0])], [str(i) for i in source.alert_ids], []):
        response = await client.post(url, json={"alerts": alerts}, headers=headers)
        assert response.status_code == 422, (alerts, response.text)
        assert response.json()["error"]["details"][0]["field"] == "alerts"
    assert {a.id for a in await alerts_of(app, source.id)} == set(source.alert_ids)
    assert await events(app, source.id) == []


async def test_moving_an_alert(app: FastAPI, client: httpx.AsyncClient, tenant: Tenant) -> None:
    source = await create_incident(app, tenant.org_id, alerts=2)
    target = await create_incident(app, tenant.org_id, alerts=1)
    alert_id = source.alert_ids[0]
    response = await client.post(
        f"{INCIDENTS}/{source.number}/alerts/move", json={"alert": str(alert_id), "to": target.ref},
        headers=tenant.headers["operator-a"],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["number"] == target.number
    assert response.json()["alert_count"] == 2
    (moved,) = [a for a in await alerts_of(app, target.id) if a.id == alert_id]
    assert moved.grouping == {
        "strategy": "manual",
        "text": f"moved by {OPERATOR} from {source.ref}",
        "incident_number": target.number,
    }
    assert (await row(app, source.id)).alert_count == 1
    for incident in (source, target):
        kinds = [e.kind for e in await events(app, incident.id) if e.kind != "root_cause"]
        assert kinds == ["alert_moved"]
    assert [a.action for a in await audits(app, source.id)] == ["incident.move_alert"]

    # The last alert stays: merge instead. An alert of another incident is not "in" it.
    last = source.alert_ids[1]
    url = f"{INCIDENTS}/{source.ref}/alerts/move"
    headers = tenant.headers["operator-a"]
    refused = await client.post(url, json={"alert": str(last), "to": target.ref}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["field"] == "alert"
    foreign = await client.post(
        url, json={"alert": str(alert_id), "to": target.ref}, headers=headers
    )
    assert foreign.status_code == 422
    same = await client.post(url, json={"alert": str(last), "to": source.ref}, headers=headers)
    assert same.status_code == 422
    assert same.json()["error"]["details"][0]["field"] == "to"


async def test_grouping_labels_follow_the_alerts(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    into = await create_incident(app, tenant.org_id, labels={"host": "db-1"})
    merged = await create_incident(app, tenant.org_id, labels={"host": "web-7"})
    headers = tenant.headers["operator-a"]
    await client.post(f"{INCIDENTS}/{merged.ref}/merge", json={"into": into.ref}, headers=headers)
    assert await keys_of(app, into.id) == ["host=db-1", "host=web-7"]
    assert await keys_of(app, merged.id) == []
    split = await client.post(
        f"{INCIDENTS}/{into.ref}/split", json={"alerts": [str(merged.alert_ids[0])]},
        headers=headers,
    )  # fmt: skip
    assert split.status_code == 201, split.text
    assert await keys_of(app, into.id) == ["host=db-1"]
    assert await keys_of(app, uuid.UUID(split.json()["id"])) == ["host=web-7"]


async def keys_of(app: FastAPI, incident_id: uuid.UUID) -> list[str]:
    async with app.state.runtime.sessions() as s:
        return await labels.of(s, incident_id)


async def test_after_a_merge_new_alerts_of_the_merged_services_join_the_target(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await build_shop(client, tenant.headers["operator-a"])
    await fire(app, tenant.org_id, [AlertSpec("DiskFull", "orders-db")])
    await fire(app, tenant.org_id, [AlertSpec("IndexStale", "search-index")])
    db, search = await incidents(app, tenant.org_id)
    merged = await client.post(
        f"{INCIDENTS}/INC-{search.number}/merge", json={"into": f"INC-{db.number}"},
        headers=tenant.headers["operator-a"],
    )  # fmt: skip
    assert merged.status_code == 200, merged.text
    assert sorted(merged.json()["services"]) == ["orders-db", "search-index"]
    await fire(app, tenant.org_id, [AlertSpec("IndexSlow", "search-index", timedelta(minutes=2))])
    assert [i.number for i in await incidents(app, tenant.org_id)] == [db.number, search.number]
    assert (await row(app, db.id)).alert_count == 3
