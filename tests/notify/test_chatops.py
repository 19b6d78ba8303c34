"""Slack ChatOps: signed slash commands and buttons act as the Loom user behind the Slack
profile's e-mail; bad or stale signatures are refused with 401; unknown or unauthorised
people get a polite answer and nothing happens."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.audit.models import AuditEntry
from loom.demo.fakes.slack import FakeSlack
from tests.conftest import ADMIN_EMAIL, Tenant
from tests.incidents.factories import create_incident

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0LOOM"
COMMANDS = "/api/v1/chatops/slack/commands"
ACTIONS = "/api/v1/chatops/slack/interactions"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    users = {"U0OPS": "operator-a@loom.test", "U0VIEW": "viewer-a@loom.test",
             "U0ADMIN": ADMIN_EMAIL, "U0STRANGER": "stranger@elsewhere.test"}  # fmt: skip
    with FakeSlack(users=users) as fake:
        yield fake


@pytest.fixture
async def workspace(
    client: httpx.AsyncClient, admin_headers: dict[str, str], slack: FakeSlack
) -> None:
    body = {"workspace_id": TEAM, "api_base": slack.api_base, "signing_secret": SECRET,
            "bot_token": slack.token}  # fmt: skip
    made = await client.post("/api/v1/notify/chat-workspaces/slack", json=body,
                             headers=admin_headers)  # fmt: skip
    assert made.status_code == 201, made.text
    assert SECRET not in made.text and slack.token not in made.text


def signed(body: str, *, secret: str = SECRET, age: float = 0) -> dict[str, str]:
    stamp = str(int(time.time() - age))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest(),
            "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip


def command(user: str, text: str) -> str:
    return urlencode({"team_id": TEAM, "user_id": user, "command": "/loom", "text": text,
                      "response_url": "https://hooks.slack.com/commands/1/2/3"})  # fmt: skip


async def status_of(client: httpx.AsyncClient, headers: dict[str, str], ref: str) -> str:
    found = await client.get(f"/api/v1/incidents/{ref}", headers=headers)
    return str(found.json()["status"])


async def test_an_operator_acknowledges_from_slack_and_it_is_audited(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant,
    workspace: None,
) -> None:  # fmt: skip
    made = await create_incident(app, tenant.org_id)
    ref = f"INC-{made.number}"
    body = command("U0OPS", f"ack {ref}")
    answer = await client.post(COMMANDS, content=body, headers=signed(body))
    assert answer.status_code == 200, answer.text
    assert answer.json()["response_type"] == "ephemeral"
    assert "acknowledged" in answer.json()["text"]
    assert await status_of(client, admin_headers, ref) == "acknowledged"
    async with app.state.runtime.sessions() as s:
        entry = (await s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()))).first()
    assert entry is not None and entry.actor_name == "operator-a@loom.test"
    assert "from Slack by <@U0OPS>" in json.dumps(entry.after)
    listed = command("U0VIEW", "incidents")
    seen = await client.post(COMMANDS, content=listed, headers=signed(listed))
    assert ref in seen.json()["text"]


async def test_the_acknowledge_button_acts_like_the_command(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant,
    workspace: None, slack: FakeSlack,
) -> None:  # fmt: skip
    made = await create_incident(app, tenant.org_id)
    payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": "U0ADMIN"},
               "actions": [{"action_id": "loom_ack", "value": str(made.id)}],
               "response_url": slack.response_url()}  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)})
    answer = await client.post(ACTIONS, content=body, headers=signed(body))
    assert answer.status_code == 200, answer.text
    assert await status_of(client, admin_headers, f"INC-{made.number}") == "acknowledged"
    # Slack shows nothing of the HTTP reply to a click: the answer goes to response_url.
    [said] = slack.responses
    assert said["response_type"] == "ephemeral" and said["replace_original"] is False
    assert "acknowledged" in said["text"]


async def test_bad_or_stale_signatures_are_refused(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant,
    workspace: None,
) -> None:  # fmt: skip
    made = await create_incident(app, tenant.org_id)
    body = command("U0OPS", f"ack INC-{made.number}")
    for headers in (signed(body, secret="wrong"), signed(body, age=600),
                    {"Content-Type": "application/x-www-form-urlencoded"}):  # fmt: skip
        refused = await client.post(COMMANDS, content=body, headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"]
    other = command("U0OPS", "incidents").replace(TEAM, "T0OTHER")
    assert (await client.post(COMMANDS, content=other, headers=signed(other))).status_code == 401
    tampered = signed(body)
    assert (await client.post(COMMANDS, content=body + "x", headers=tampered)).status_code == 401
    assert await status_of(client, admin_headers, f"INC-{made.number}") == "triggered"


async def test_strangers_and_viewers_are_politely_refused(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant,
    workspace: None,
) -> None:  # fmt: skip
    made = await create_incident(app, tenant.org_id)
    ref = f"INC-{made.number}"
    for user, words in (("U0STRANGER", "not a Loom user"), ("U0NOBODY", "could not tell"),
                        ("U0VIEW", "did not work")):  # fmt: skip
        body = command(user, f"ack {ref}")
        answer = await client.post(COMMANDS, content=body, headers=signed(body))
        assert answer.status_code == 200, answer.text
        assert words in answer.json()["text"], (user, answer.json())
    assert await status_of(client, admin_headers, ref) == "triggered"
    later = command("U0OPS", "run restart-db orders")
    answer = await client.post(COMMANDS, content=later, headers=signed(later))
    assert "Not available" in answer.json()["text"]


async def test_a_malformed_button_payload_is_a_400_not_a_crash(
    client: httpx.AsyncClient, workspace: None
) -> None:
    for payload in ("[]", '{"team": "T0LOOM", "user": {"id": "U0OPS"}}', "{not json"):
        body = urlencode({"payload": payload})
        answer = await client.post(ACTIONS, content=body, headers=signed(body))
        assert answer.status_code == 400, (payload, answer.text)
        assert answer.json()["error"]["code"]
