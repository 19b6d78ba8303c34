"""Who sees which notification attempts: the attempts through the channels a person sees
(the organisation's and their teams'), and those of deleted channels; organisation admins
see them all. The API's log, an incident's notifications and the portal's log agree."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from loom.db.types import utcnow
from loom.notify.kinds import AttemptStatus
from loom.notify.models import Channel, Notification
from tests.conftest import Tenant
from tests.incidents.factories import create_incident

CHANNELS = "/api/v1/notify/channels"


async def _channel(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, team: str | None
) -> str:
    body = {"name": name, "kind": "webhook", "config": {"url": "http://127.0.0.1:9/x"},
            "team": team}  # fmt: skip
    made = await client.post(CHANNELS, json=body, headers=headers)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def test_each_member_sees_the_attempts_of_the_channels_they_see(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant
) -> None:
    h = tenant.headers
    await _channel(client, admin_headers, "org-hook", None)
    await _channel(client, h["admin-a"], "a-hook", "team-a")
    await _channel(client, h["admin-b"], "b-hook", "team-b")
    incident = await create_incident(app, tenant.org_id)
    async with app.state.runtime.sessions() as s, s.begin():
        channels = list(await s.scalars(select(Channel)))
        for channel in [*channels, None]:  # None: a channel deleted since
            s.add(Notification(
                org_id=tenant.org_id, delivery_id=uuid.uuid4(),
                channel_id=channel.id if channel else None,
                channel_name=channel.name if channel else "gone-hook", channel_kind="webhook",
                incident_id=incident.id, event="incident.opened",
                status=AttemptStatus.SENT.value, event_at=utcnow(),
            ))  # fmt: skip

    async def seen(headers: dict[str, str], path: str) -> list[str]:
        answer = await client.get(path, headers=headers)
        assert answer.status_code == 200, answer.text
        return sorted(row["channel"] for row in answer.json()["items"])

    everything = ["a-hook", "b-hook", "gone-hook", "org-hook"]
    log, of_incident = "/api/v1/notify/notifications", f"/api/v1/incidents/INC-{incident.number}/notifications"  # fmt: skip
    assert await seen(admin_headers, log) == everything
    assert await seen(h["viewer-a"], log) == ["a-hook", "gone-hook", "org-hook"]
    assert await seen(h["viewer-b"], log) == ["b-hook", "gone-hook", "org-hook"]
    assert await seen(h["viewer-a"], of_incident) == ["a-hook", "gone-hook", "org-hook"]
    assert await seen(admin_headers, of_incident) == everything
    page = await client.get("/ui/oncall/log", headers=h["viewer-b"])
    assert page.status_code == 200
    assert "b-hook" in page.text and "a-hook" not in page.text
    incident_page = await client.get(f"/ui/incidents/INC-{incident.number}", headers=h["viewer-b"])
    assert "b-hook" in incident_page.text and "a-hook" not in incident_page.text
