"""Channels over the API: validation naming the field, who may manage them, what each
member sees, secrets masked everywhere (answers, audit entries), and an incident's
notification log."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from loom.audit.models import AuditEntry
from loom.db.types import utcnow
from loom.demo.fakes.server import FakeServer, Reply
from loom.notify import delivery
from loom.notify.message import IncidentMessage, NotifyEvent
from loom.notify.models import Channel
from loom.queue.factory import queue_for
from loom.secrets.service import MASK
from tests.conftest import Tenant
from tests.incidents.factories import create_incident
from tests.notify.conftest import Notifier

CHANNELS = "/api/v1/notify/channels"
SECRET = "s3cr3t-never-shown"


def webhook(name: str = "hook", **extra: object) -> dict[str, object]:
    return {"name": name, "kind": "webhook", "config": {"url": "http://127.0.0.1:9/x"}, **extra}


async def test_bad_settings_are_refused_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    cases = [
        ({**webhook(), "kind": "carrier-pigeon"}, "kind"),
        ({**webhook(), "config": {}}, "config.url"),
        (webhook(secrets={"nope": "x"}), "secrets.nope"),
        ({**webhook(), "name": "Not A Slug"}, "name"),
        (webhook(team="no-such-team"), "team"),
    ]
    for body, field in cases:
        response = await client.post(CHANNELS, json=body, headers=admin_headers)
        assert response.status_code in (400, 422), (field, response.text)
        fields = [d["field"] for d in response.json()["error"]["details"]]
        assert any(f.endswith(field) for f in fields), (field, fields)
    assert (await client.get(CHANNELS, headers=admin_headers)).json()["items"] == []


async def test_names_are_unique_in_the_organisation(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert (await client.post(CHANNELS, json=webhook(), headers=admin_headers)).status_code == 201
    again = await client.post(CHANNELS, json=webhook(), headers=admin_headers)
    assert again.status_code == 409


async def test_secrets_are_masked_in_answers_and_audit(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await client.post(
        CHANNELS, json=webhook(secrets={"hmac_secret": SECRET}), headers=admin_headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["secrets"] == {"hmac_secret": MASK}
    one = await client.get(f"{CHANNELS}/{created.json()['id']}", headers=admin_headers)
    listed = await client.get(CHANNELS, headers=admin_headers)
    changed = await client.patch(
        f"{CHANNELS}/{created.json()['id']}", json={"secrets": {"hmac_secret": SECRET + "2"}},
        headers=admin_headers,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    for response in (created, one, listed, changed):
        assert SECRET not in response.text
    async with app.state.runtime.sessions() as s:
        entries = list(await s.scalars(select(AuditEntry)))
        assert any(e.action == "notify_channel.create" for e in entries)
        assert all(SECRET not in str(e.before) + str(e.after) for e in entries)
        channel = await s.scalar(select(Channel))
        assert channel is not None and SECRET not in str(channel.config)


async def test_org_admins_manage_org_channels_and_team_admins_their_teams(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant
) -> None:
    h = tenant.headers
    refused = await client.post(CHANNELS, json=webhook(), headers=h["admin-a"])
    assert refused.status_code == 403
    mine = await client.post(CHANNELS, json=webhook("team-a-hook", team="team-a"),
                             headers=h["admin-a"])  # fmt: skip
    assert mine.status_code == 201, mine.text
    assert mine.json()["team"] == "team-a"
    operator = await client.post(CHANNELS, json=webhook("op-hook", team="team-a"),
                                 headers=h["operator-a"])  # fmt: skip
    assert operator.status_code == 403
    org = await client.post(CHANNELS, json=webhook("org-hook"), headers=admin_headers)
    assert org.status_code == 201
    seen_by_b = await client.get(CHANNELS, headers=h["viewer-b"])
    assert [c["name"] for c in seen_by_b.json()["items"]] == ["org-hook"]
    hidden = await client.get(f"{CHANNELS}/{mine.json()['id']}", headers=h["viewer-b"])
    assert hidden.status_code == 404
    seen_by_a = await client.get(CHANNELS, headers=h["viewer-a"])
    assert sorted(c["name"] for c in seen_by_a.json()["items"]) == ["org-hook", "team-a-hook"]
    not_theirs = await client.delete(f"{CHANNELS}/{mine.json()['id']}", headers=h["admin-b"])
    assert not_theirs.status_code == 404
    gone = await client.delete(f"{CHANNELS}/{mine.json()['id']}", headers=h["admin-a"])
    assert gone.status_code == 204


async def test_an_incidents_notifications_are_listed_with_it(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer, tenant: Tenant,
) -> None:  # fmt: skip
    fake.route("POST", "/hook", Reply(200))
    created = await client.post(
        CHANNELS, json={**webhook(), "config": {"url": fake.url + "/hook"}}, headers=admin_headers
    )
    assert created.status_code == 201, created.text
    runtime = app.state.runtime
    incident = await create_incident(app, tenant.org_id)
    async with runtime.sessions() as s, s.begin():
        channel = await s.scalar(select(Channel))
        assert channel is not None
        message = IncidentMessage(
            event=NotifyEvent.OPENED, incident_id=str(incident.id), ref=f"INC-{incident.number}",
            title="orders-db: PostgresDown", status="triggered", severity="critical",
            opened_at=utcnow(), at=utcnow(), url="http://loom.test/x",
        )  # fmt: skip
        await delivery.enqueue(queue_for(runtime, delivery.NOTIFY_QUEUE), channel, message,
                               session=s)  # fmt: skip
    await notifier.run()
    listed = await client.get(
        f"/api/v1/incidents/INC-{incident.number}/notifications", headers=admin_headers
    )
    assert listed.status_code == 200, listed.text
    (row,) = listed.json()["items"]
    assert row["event"] == "incident.opened" and row["status"] == "sent"
    assert row["incident_id"] == str(incident.id)
