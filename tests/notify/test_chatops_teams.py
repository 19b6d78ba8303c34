"""Teams ChatOps: an outgoing webhook's activities, signed as Teams signs them (HMAC-SHA256
of the body bytes keyed with the base64-decoded security token, base64 digest in
`Authorization: HMAC …`), act as the Loom user the Teams person linked with a one-time
code; bad, stale or tampered signatures and unknown webhooks are refused with 401;
unlinked people and viewers get a polite answer and nothing happens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.audit.models import AuditEntry
from tests.conftest import Tenant
from tests.incidents.factories import create_incident

TOKEN = base64.b64encode(bytes(range(32))).decode()
OPS = {
    "id": "29:1ops",
    "name": "Ann Operator",
    "aadObjectId": "6f1e2d3c-aaaa-4bbb-8ccc-000000000001",
}
VIEW = {
    "id": "29:1view",
    "name": "Val Viewer",
    "aadObjectId": "6f1e2d3c-aaaa-4bbb-8ccc-000000000002",
}
EVE = {"id": "29:1eve", "name": "Eve Else", "aadObjectId": "6f1e2d3c-aaaa-4bbb-8ccc-000000000003"}


@pytest.fixture
async def webhook(client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]) -> str:
    """A registered outgoing webhook with its security token: its callback path."""
    for headers in (tenant.headers["operator-a"], tenant.headers["admin-a"]):  # not org admins
        refused = await client.post("/api/v1/notify/chat-workspaces/teams", json={},
                                    headers=headers)  # fmt: skip
        assert refused.status_code == 403, refused.text
    made = await client.post("/api/v1/notify/chat-workspaces/teams",
                             json={"security_token": TOKEN}, headers=admin_headers)  # fmt: skip
    assert made.status_code == 201, made.text
    assert TOKEN not in made.text and made.json()["secrets"] == {"security_token": "••••"}
    return str(httpx.URL(made.json()["endpoint_url"]).path)


def activity(sender: dict[str, str], text: str, *, age: float = 0) -> str:
    """An outgoing webhook's message activity, as Teams sends it."""
    sent = datetime.now(UTC) - timedelta(seconds=age)
    body: dict[str, Any] = {
        "type": "message", "id": "1485983408511",
        "timestamp": sent.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
        "localTimestamp": sent.isoformat(), "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "channelId": "msteams", "from": sender,
        "conversation": {"isGroup": True, "id": "19:abc@thread.skype;messageid=1485983408511",
                         "name": None},
        "recipient": None, "textFormat": "plain", "attachmentLayout": None,
        "text": f"<at>Loom</at>&nbsp;{text}\n",
        "attachments": [{"contentType": "text/html",
                         "content": f"<div><span itemscope>Loom</span> {text}</div>"}],
        "entities": [{"type": "clientInfo", "locale": "en-GB", "country": "GB"}],
        "channelData": {"teamsChannelId": "19:abc@thread.skype",
                        "teamsTeamId": "19:team@thread.skype",
                        "channel": {"id": "19:abc@thread.skype"},
                        "team": {"id": "19:team@thread.skype"},
                        "tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
    }  # fmt: skip
    return json.dumps(body)


def signed(body: str, token: str = TOKEN) -> dict[str, str]:
    digest = hmac.new(base64.b64decode(token), body.encode(), hashlib.sha256).digest()
    return {"Authorization": "HMAC " + base64.b64encode(digest).decode(),
            "Content-Type": "application/json"}  # fmt: skip


async def say(client: httpx.AsyncClient, url: str, sender: dict[str, str], text: str) -> str:
    body = activity(sender, text)
    answer = await client.post(url, content=body, headers=signed(body))
    assert answer.status_code == 200, answer.text
    assert answer.json()["type"] == "message"
    return str(answer.json()["text"])


async def link(client: httpx.AsyncClient, url: str, headers: dict[str, str],
               sender: dict[str, str]) -> str:  # fmt: skip
    workspace_id = url.rsplit("/", 1)[-1]
    made = await client.post(f"/api/v1/notify/chat-workspaces/teams/{workspace_id}/link-codes",
                             headers=headers)  # fmt: skip
    assert made.status_code == 201, made.text
    code = str(made.json()["code"])
    assert made.json()["say"] == f"@Loom link {code}"
    return code


async def status_of(client: httpx.AsyncClient, headers: dict[str, str], ref: str) -> str:
    found = await client.get(f"/api/v1/incidents/{ref}", headers=headers)
    return str(found.json()["status"])


async def test_a_linked_operator_acknowledges_from_teams_and_it_is_audited(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, webhook: str
) -> None:
    made = await create_incident(app, tenant.org_id)
    ref = f"INC-{made.number}"
    code = await link(client, webhook, tenant.headers["operator-a"], OPS)
    assert "operator-a@loom.test" in await say(client, webhook, OPS, f"link {code}")
    # the code was said in a channel: it links nobody else afterwards
    assert "unknown, used or expired" in await say(client, webhook, EVE, f"link {code}")
    answer = await say(client, webhook, OPS, f"ack {ref}")
    assert "acknowledged" in answer, answer
    headers = tenant.headers["viewer-a"]
    assert await status_of(client, headers, ref) == "acknowledged"
    async with app.state.runtime.sessions() as s:
        entries = list(await s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())))
    acked = next(e for e in entries if "from Teams by Ann Operator" in json.dumps(e.after))
    assert acked.actor_name == "operator-a@loom.test"
    linked = next(e for e in entries if e.action == "chat_member.link")
    assert linked.actor_name == "operator-a@loom.test"
    assert ref in await say(client, webhook, OPS, "incidents")


async def test_unlinked_people_and_viewers_are_politely_refused(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, webhook: str
) -> None:
    made = await create_incident(app, tenant.org_id)
    ref = f"INC-{made.number}"
    answer = await say(client, webhook, EVE, f"ack {ref}")
    assert "Loom does not know you yet" in answer and "link <code>" in answer
    code = await link(client, webhook, tenant.headers["viewer-a"], VIEW)
    assert "viewer-a@loom.test" in await say(client, webhook, VIEW, f"link {code}")
    assert "did not work" in await say(client, webhook, VIEW, f"resolve {ref}")
    assert await status_of(client, tenant.headers["viewer-a"], ref) == "triggered"
    assert "unknown, used or expired" in await say(client, webhook, EVE, "link NOTACODE")
    assert "Not available" in await say(client, webhook, VIEW, "run restart-db orders")


async def test_bad_stale_tampered_or_unknown_signatures_are_refused(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, webhook: str
) -> None:
    made = await create_incident(app, tenant.org_id)
    code = await link(client, webhook, tenant.headers["operator-a"], OPS)
    await say(client, webhook, OPS, f"link {code}")
    body = activity(OPS, f"ack INC-{made.number}")
    other_token = base64.b64encode(b"x" * 32).decode()
    stale = activity(OPS, f"ack INC-{made.number}", age=600)
    attempts = [
        (webhook, body, signed(body, other_token)),
        (webhook, body, {"Content-Type": "application/json"}),
        (webhook, body, {"Authorization": signed(body)["Authorization"].replace("HMAC", "Bearer")}),
        (webhook, body.replace("ack", "resolve"), signed(body)),  # tampered after signing
        (webhook, stale, signed(stale)),  # a replay
        (webhook.rsplit("/", 1)[0] + "/not-registered", body, signed(body)),
        (webhook, "not json", signed("not json")),
    ]  # fmt: skip
    for url, content, headers in attempts:
        refused = await client.post(url, content=content, headers=headers)
        assert refused.status_code == 401, (url, headers, refused.text)
        assert refused.json()["error"]["code"]
    assert await status_of(client, tenant.headers["viewer-a"], f"INC-{made.number}") == "triggered"


async def test_the_token_may_come_after_the_callback_url(
    client: httpx.AsyncClient, tenant: Tenant, admin_headers: dict[str, str]
) -> None:
    admin = admin_headers
    made = await client.post("/api/v1/notify/chat-workspaces/teams", json={}, headers=admin)
    assert made.status_code == 201, made.text
    url = made.json()["endpoint_url"]
    assert made.json()["secrets"] == {}
    path = str(httpx.URL(url).path)
    assert path.startswith("/api/v1/chatops/teams/messages/")
    body = activity(OPS, "help")
    refused = await client.post(path, content=body, headers=signed(body))
    assert refused.status_code == 401, refused.text
    token_url = f"/api/v1/notify/chat-workspaces/teams/{made.json()['workspace_id']}/security-token"
    bad = await client.put(token_url, json={"security_token": "not base64!"}, headers=admin)
    assert bad.status_code == 422, bad.text
    assert "security_token" in json.dumps(bad.json()["error"]["details"])
    denied = await client.put(token_url, json={"security_token": TOKEN},
                              headers=tenant.headers["operator-a"])  # fmt: skip
    assert denied.status_code == 403, denied.text
    kept = await client.put(token_url, json={"security_token": TOKEN}, headers=admin)
    assert kept.status_code == 200, kept.text
    assert TOKEN not in kept.text and kept.json()["endpoint_url"] == url
    assert "@Loom ack INC-42" in await say(client, path, OPS, "help")
    unknown = "/api/v1/notify/chat-workspaces/teams/not-registered/link-codes"
    missing = await client.post(unknown, headers=tenant.headers["operator-a"])
    assert missing.status_code == 404, missing.text
