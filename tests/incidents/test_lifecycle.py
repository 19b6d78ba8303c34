"""The incident lifecycle: the transition table is the law, MTTA and MTTR are recorded,
operators act and viewers only read, and every action leaves a timeline event and an
audit entry."""

from __future__ import annotations

import itertools
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from loom.db.types import utcnow
from loom.incidents.kinds import TRANSITIONS, IncidentStatus, Severity
from tests.conftest import Tenant
from tests.incidents.factories import create_incident
from tests.incidents.support import INCIDENTS, audits, events, row, snapshot

S = IncidentStatus
ENDPOINT = {S.ACKNOWLEDGED: "ack", S.INVESTIGATING: "investigate", S.MITIGATED: "mitigate",
            S.RESOLVED: "resolve", S.TRIGGERED: "reopen"}  # fmt: skip
VERB = {S.ACKNOWLEDGED: "acknowledge", S.INVESTIGATING: "investigate",
        S.MITIGATED: "mitigate", S.RESOLVED: "resolve", S.TRIGGERED: "reopen"}  # fmt: skip


async def test_every_status_pair_follows_the_transition_table(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = tenant.headers["operator-a"]
    for current, new in itertools.product(list(S), list(S)):
        made = await create_incident(app, tenant.org_id, status=current)
        before = snapshot(await row(app, made.id))
        response = await client.post(f"{INCIDENTS}/{made.ref}/{ENDPOINT[new]}", headers=headers)
        after = await row(app, made.id)
        if new in TRANSITIONS[current]:
            assert response.status_code == 200, (current, new, response.text)
            assert response.json()["status"] == new.value
            assert after.status == new.value
            assert [e.kind for e in await events(app, made.id)][-1] in (
                "acknowledged", "status_changed", "resolved", "reopened",
            )  # fmt: skip
            assert [a.action for a in await audits(app, made.id)] == [f"incident.{VERB[new]}"]
        else:
            assert response.status_code == 409, (current, new, response.text)
            assert response.json()["error"]["code"] == "ILLEGAL_TRANSITION"
            assert snapshot(after) == before
            assert await events(app, made.id) == []
            assert await audits(app, made.id) == []


async def test_acknowledging_records_mtta_once(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await create_incident(app, tenant.org_id, opened_at=utcnow() - timedelta(minutes=10))
    headers = tenant.headers["operator-a"]
    acked = await client.post(f"{INCIDENTS}/{made.number}/ack", headers=headers)
    assert acked.status_code == 200, acked.text
    body = acked.json()
    assert body["status"] == "acknowledged"
    assert 600 <= body["mtta_seconds"] < 660
    assert body["acknowledged_at"] is not None
    later = await client.post(f"{INCIDENTS}/{made.number}/investigate", headers=headers)
    assert later.json()["mtta_seconds"] == body["mtta_seconds"]
    assert later.json()["acknowledged_at"] == body["acknowledged_at"]
    assert (await client.post(f"{INCIDENTS}/{made.number}/mitigate", headers=headers)).json()[
        "mitigated_at"
    ] is not None


async def test_resolving_records_mttr_and_a_person_resolving_acknowledges(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await create_incident(app, tenant.org_id, opened_at=utcnow() - timedelta(hours=1))
    response = await client.post(
        f"{INCIDENTS}/{made.ref}/resolve", json={"note": "restarted the pool"},
        headers=tenant.headers["operator-a"],
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "resolved"
    assert 3600 <= body["mttr_seconds"] < 3660
    assert body["resolved_at"] is not None
    assert body["mtta_seconds"] == body["mttr_seconds"]  # resolving unacknowledged acks it
    (event,) = await events(app, made.id)
    assert event.kind == "resolved"
    assert event.actor == "operator-a@loom.test"
    assert event.data["note"] == "restarted the pool"
    assert "restarted the pool" in event.summary


async def test_a_person_may_resolve_while_alerts_still_fire(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await create_incident(app, tenant.org_id, alerts=3)
    response = await client.post(
        f"{INCIDENTS}/{made.ref}/resolve", headers=tenant.headers["operator-a"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["firing_count"] == 3
    assert (await row(app, made.id)).status == "resolved"


async def test_reopening_keeps_the_first_mtta_and_measures_mttr_again(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await create_incident(app, tenant.org_id, opened_at=utcnow() - timedelta(minutes=30))
    headers = tenant.headers["operator-a"]
    acked = (await client.post(f"{INCIDENTS}/{made.ref}/ack", headers=headers)).json()
    resolved = (await client.post(f"{INCIDENTS}/{made.ref}/resolve", headers=headers)).json()
    assert resolved["mttr_seconds"] is not None
    reopened = await client.post(f"{INCIDENTS}/{made.ref}/reopen", headers=headers)
    assert reopened.status_code == 200, reopened.text
    body = reopened.json()
    assert body["status"] == "triggered"
    assert body["resolved_at"] is None and body["mttr_seconds"] is None
    assert body["quiet_since"] is None
    assert body["mtta_seconds"] == acked["mtta_seconds"]
    again = (await client.post(f"{INCIDENTS}/{made.ref}/resolve", headers=headers)).json()
    assert again["mttr_seconds"] >= resolved["mttr_seconds"]
    assert [e.kind for e in await events(app, made.id)] == [
        "acknowledged", "resolved", "reopened", "resolved",
    ]  # fmt: skip


async def test_viewers_read_but_are_refused_every_action(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await create_incident(app, tenant.org_id)
    headers = tenant.headers["viewer-a"]
    before = snapshot(await row(app, made.id))
    assert (await client.get(f"{INCIDENTS}/{made.ref}", headers=headers)).status_code == 200
    attempts = [
        ("POST", f"{INCIDENTS}/{made.ref}/ack", None),
        ("POST", f"{INCIDENTS}/{made.ref}/resolve", None),
        ("PATCH", f"{INCIDENTS}/{made.ref}", {"title": "mine now"}),
        ("POST", f"{INCIDENTS}/{made.ref}/comments", {"body": "hello"}),
    ]
    for method, url, body in attempts:
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 403, (url, response.text)
        assert response.json()["error"]["code"] == "FORBIDDEN"
    assert snapshot(await row(app, made.id)) == before
    assert await events(app, made.id) == []
    assert await audits(app, made.id) == []


async def test_an_operator_of_any_team_and_an_org_admin_may_act(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    made = await create_incident(app, tenant.org_id)
    ack = await client.post(f"{INCIDENTS}/{made.ref}/ack", headers=tenant.headers["operator-b"])
    assert ack.status_code == 200, ack.text
    resolve = await client.post(f"{INCIDENTS}/{made.ref}/resolve", headers=admin_headers)
    assert resolve.status_code == 200, resolve.text


async def test_actions_write_timeline_events_and_audit_entries(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await create_incident(app, tenant.org_id)
    headers = tenant.headers["operator-a"]
    await client.post(f"{INCIDENTS}/{made.ref}/ack", json={"note": "on it"}, headers=headers)
    await client.patch(
        f"{INCIDENTS}/{made.ref}",
        json={"assignee": "operator-b@loom.test", "severity": "critical", "title": "DB down",
              "hold_open": True},
        headers=headers,
    )  # fmt: skip
    await client.post(f"{INCIDENTS}/{made.ref}/comments", json={"body": "looks like the DB"},
                      headers=headers)  # fmt: skip
    kinds = [e.kind for e in await events(app, made.id)]
    assert kinds == ["acknowledged", "title_changed", "severity_changed", "assigned", "hold",
                     "comment"]  # fmt: skip
    entries = await audits(app, made.id)
    assert [a.action for a in entries] == [
        "incident.acknowledge", "incident.title", "incident.severity", "incident.assign",
        "incident.hold", "incident.comment",
    ]  # fmt: skip
    assert {a.actor_name for a in entries} == {"operator-a@loom.test"}
    assert entries[0].before == {"status": "triggered"}
    assert entries[0].after == {"status": "acknowledged", "note": "on it"}
    assert entries[3].after == {"assignee": "operator-b@loom.test"}


async def test_patch_changes_what_is_sent_and_null_clears(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await create_incident(
        app, tenant.org_id, alerts=2, severities=[Severity.WARNING, Severity.INFO]
    )
    headers = tenant.headers["operator-a"]
    url = f"{INCIDENTS}/{made.ref}"
    change = {"severity": "critical", "assignee": "admin-a@loom.test", "title": "  Payments down  "}
    body = (await client.patch(url, json=change, headers=headers)).json()
    assert body["severity"] == "critical" and body["severity_override"] == "critical"
    assert body["assignee"] == "admin-a@loom.test"
    assert body["title"] == "Payments down" and body["title_edited"] is True
    body = (
        await client.patch(url, json={"severity": None, "assignee": None}, headers=headers)
    ).json()
    assert body["severity"] == "warning"  # the max of its alerts again
    assert body["severity_override"] is None
    assert body["assignee"] is None
    assert body["title"] == "Payments down"  # not sent: unchanged
    body = (await client.patch(url, json={"status": "investigating", "note": "x"},
                               headers=headers)).json()  # fmt: skip
    assert body["status"] == "investigating"
    assert body["acknowledged_at"] is not None


async def test_a_refused_patch_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await create_incident(app, tenant.org_id, status=S.RESOLVED)
    headers = tenant.headers["operator-a"]
    before = snapshot(await row(app, made.id))
    url = f"{INCIDENTS}/{made.ref}"
    illegal = await client.patch(url, json={"title": "new", "status": "mitigated"}, headers=headers)
    assert illegal.status_code == 409, illegal.text
    unknown = await client.patch(url, json={"title": "new", "assignee": "nobody@x.test"},
                                 headers=headers)  # fmt: skip
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["error"]["details"][0]["field"] == "assignee"
    for bad in ({"severity": "fatal"}, {"title": ""}, {"status": None}, {"colour": "red"},
                {"note": "no status"}):  # fmt: skip
        response = await client.patch(url, json=bad, headers=headers)
        assert response.status_code == 422, (bad, response.text)
    assert snapshot(await row(app, made.id)) == before
    assert await events(app, made.id) == []
    assert await audits(app, made.id) == []


async def test_comments_are_timeline_events(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = await create_incident(app, tenant.org_id)
    headers = tenant.headers["operator-a"]
    url = f"{INCIDENTS}/{made.ref}/comments"
    created = await client.post(url, json={"body": "first"}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "comment"
    assert created.json()["actor"] == "operator-a@loom.test"
    await client.post(f"{INCIDENTS}/{made.ref}/ack", headers=headers)
    await client.post(url, json={"body": "second"}, headers=headers)
    listed = (await client.get(url, headers=tenant.headers["viewer-a"])).json()
    assert [c["summary"] for c in listed["items"]] == ["first", "second"]
    for bad in ({"body": ""}, {"body": "x" * 10_001}, {}):
        assert (await client.post(url, json=bad, headers=headers)).status_code == 422
    blank = await client.post(url, json={"body": "   "}, headers=headers)
    assert blank.status_code == 422
    assert blank.json()["error"]["details"][0]["field"] == "body"


@pytest.mark.parametrize("action", ["resolve", "reopen"])
async def test_a_merged_incident_neither_resolves_nor_reopens(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, action: str
) -> None:
    target = await create_incident(app, tenant.org_id)
    made = await create_incident(app, tenant.org_id, status=S.RESOLVED)
    async with app.state.runtime.sessions() as s, s.begin():
        incident = await s.get(type(await row(app, made.id)), made.id)
        assert incident is not None
        incident.merged_into_id = target.id
    response = await client.post(
        f"{INCIDENTS}/{made.ref}/{action}", headers=tenant.headers["operator-a"]
    )
    assert response.status_code == 409, response.text
    assert (await row(app, made.id)).status == "resolved"
