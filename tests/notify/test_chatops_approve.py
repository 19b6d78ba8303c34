"""Approving requests from the chat: `/loom approve <request> [comment]`, `/loom reject
<request> <reason>`, the Approve button of Slack's approval message and `@Loom approve`
in Teams decide through the API's approvals service: eligible approvers only, never the
requester, once each, audited with the chat user; every refusal is a sentence and changes
nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from loom.audit.models import AuditEntry
from loom.demo.fakes.slack import FakeSlack
from loom.notify.consumer import NotifyConsumers
from loom.provisioning.models import ApprovalDecision
from loom.workers.runner import Outcome
from tests.conftest import ADMIN_EMAIL, bearer, token_for
from tests.notify import test_chatops_teams as teams
from tests.notify.conftest import Notifier
from tests.notify.test_chatops import ACTIONS, COMMANDS, SECRET, TEAM, command, signed
from tests.provisioning.waits_support import (  # noqa: F401 - fixtures
    Api,
    drain,
    loom_api,
    notify_server,
    waiter,
    waits_app,
)

PEOPLE = {"U0ALICE": "alice@loom.test", "U0DAVE": "dave@loom.test",
          "U0RITA": "rita@loom.test", "U0BOB": "bob@loom.test"}  # fmt: skip


@pytest.fixture
def app(waits_app: FastAPI) -> FastAPI:  # noqa: F811 - the chat fixtures run on it
    return waits_app


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(users=PEOPLE) as fake:
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


async def waiting(loom_api: Api, item: str = "gated") -> str:  # noqa: F811
    """A request of Rita's (team shop) waiting for team payments or Carol to approve."""
    request_id = await loom_api.submit(item)
    assert await drain(loom_api.runtime) == [Outcome.WAITING]
    return request_id


async def say(client: httpx.AsyncClient, user: str, text: str) -> str:
    body = command(user, text)
    answer = await client.post(COMMANDS, content=body, headers=signed(body))
    assert answer.status_code == 200, answer.text
    assert answer.json()["response_type"] == "ephemeral"
    return str(answer.json()["text"])


async def decisions(app: FastAPI, request_id: str) -> list[tuple[str, str, str]]:
    async with app.state.runtime.sessions() as s:
        rows = await s.scalars(
            select(ApprovalDecision).where(ApprovalDecision.request_id == uuid.UUID(request_id))
        )
        return [(d.email, d.decision, d.comment) for d in rows]


async def test_an_approver_approves_with_the_short_ref_and_the_request_goes_on(
    app: FastAPI, client: httpx.AsyncClient, loom_api: Api, workspace: None,  # noqa: F811
) -> None:  # fmt: skip
    request_id = await waiting(loom_api)
    short = request_id[:8]
    answer = await say(client, "U0ALICE", f"approve request {short} looks fine")
    assert answer == f"Approved request {short} (gated) (alice@loom.test): it goes on."
    assert await decisions(app, request_id) == [("alice@loom.test", "approve", "looks fine")]
    assert await drain(loom_api.runtime) == [Outcome.COMPLETED]
    assert (await loom_api.detail(request_id))["state"] == "completed"
    assert ("approved by alice@loom.test (from Slack by <@U0ALICE>): looks fine"
            in await loom_api.logs(request_id))  # fmt: skip
    async with app.state.runtime.sessions() as s:
        [entry] = await s.scalars(select(AuditEntry).where(AuditEntry.action == "request.approve"))
    assert entry.actor_name == "alice@loom.test"
    assert entry.after == {"task": "approval", "comment": "looks fine",
                           "note": "from Slack by <@U0ALICE>"}  # fmt: skip
    again = await say(client, "U0BOB", f"approve {request_id}")
    assert again == ("Sorry, this request is not waiting for an approval (it is completed). "
                     "Nothing was done.")  # fmt: skip


async def test_non_approvers_the_requester_and_strangers_are_refused_and_nothing_changes(
    app: FastAPI, client: httpx.AsyncClient, loom_api: Api, workspace: None,  # noqa: F811
) -> None:  # fmt: skip
    request_id = await waiting(loom_api)
    dave = await say(client, "U0DAVE", f"approve {request_id}")
    assert dave.startswith("Sorry, only team payments or carol@loom.test may decide"), dave
    rita = await say(client, "U0RITA", f"approve {request_id}")
    assert rita == "Sorry, you cannot approve or reject your own request. Nothing was done."
    assert "not a Loom user" not in rita
    stranger = await say(client, "U0NOBODY", f"approve {request_id}")
    assert "could not tell who you are" in stranger
    for ref in ("deadbeef", "feedfacecafe", str(uuid.uuid4()), "x"):
        assert (await say(client, "U0ALICE", f"approve {ref}")).startswith(f"No request `{ref}`")
    assert "Which request?" in await say(client, "U0ALICE", "approve")
    assert await decisions(app, request_id) == []
    detail = await loom_api.detail(request_id)
    assert detail["tasks"][0]["state"] == "waiting" and detail["state"] == "processing"
    async with app.state.runtime.sessions() as s:
        decided = select(func.count()).where(
            AuditEntry.action.in_(["request.approve", "request.reject"])
        )
        assert await s.scalar(decided.select_from(AuditEntry)) == 0


async def test_a_rejection_needs_a_reason_and_fails_the_request(
    app: FastAPI, client: httpx.AsyncClient, loom_api: Api, workspace: None,  # noqa: F811
) -> None:  # fmt: skip
    request_id = await waiting(loom_api)
    asked = await say(client, "U0ALICE", f"reject {request_id[:8]}")
    assert asked.startswith("Please say why") and await decisions(app, request_id) == []
    answer = await say(client, "U0ALICE", f"reject {request_id[:8]} too large for a test")
    assert answer.startswith(f"Rejected request {request_id[:8]}"), answer
    detail = await loom_api.detail(request_id)
    assert detail["state"] == "failed"
    assert "too large for a test" in detail["error"]
    assert await decisions(app, request_id) == [("alice@loom.test", "reject",
                                                 "too large for a test")]  # fmt: skip
    help_text = await say(client, "U0ALICE", "help")
    assert "approve <request> [comment]" in help_text and "reject <request> <reason>" in help_text
    assert "Not available" in await say(client, "U0ALICE", "run restart-db orders")


async def test_a_quorum_counts_chat_approvals_once_each(
    app: FastAPI, client: httpx.AsyncClient, loom_api: Api, workspace: None,  # noqa: F811
) -> None:  # fmt: skip
    request_id = await waiting(loom_api, "gated-two")
    first = await say(client, "U0ALICE", f"approve {request_id}")
    assert first.endswith("still waiting for approval by team payments (1 of 2)."), first
    twice = await say(client, "U0ALICE", f"approve {request_id}")
    assert twice == "Sorry, you already decided this approval (approved). Nothing was done."
    assert "it goes on" in await say(client, "U0BOB", f"approve {request_id}")
    assert [d[0] for d in await decisions(app, request_id)] == [
        "alice@loom.test", "bob@loom.test",
    ]  # fmt: skip


async def test_the_approve_button_of_the_slack_message_approves(
    app: FastAPI, client: httpx.AsyncClient, loom_api: Api, notifier: Notifier,  # noqa: F811
    slack: FakeSlack, workspace: None,
) -> None:  # fmt: skip
    admin = await loom_api.as_(ADMIN_EMAIL)
    made = await admin.post("/api/v1/notify/channels", json={
        "name": "slack-approvals", "kind": "slack", "config": {"mode": "webhook"},
        "secrets": {"webhook_url": slack.webhook_url},
    })  # fmt: skip
    assert made.status_code == 201, made.text
    rule = {"name": "approvals", "events": ["approval.needed"], "channels": ["slack-approvals"]}
    assert (await admin.post("/api/v1/notify/rules", json=rule)).status_code == 201
    request_id = await waiting(loom_api)
    assert await NotifyConsumers(app.state.runtime).dispatch_once() == 1
    await notifier.run()
    (message,) = slack.messages("#incidents")  # the fake Slack checked every block
    buttons = {e["action_id"]: e for b in message.blocks if b["type"] == "actions"
               for e in b["elements"]}  # fmt: skip
    assert buttons["loom_approve"]["value"] == request_id
    assert buttons["loom_view"]["url"].endswith(f"/ui/requests/{request_id}")
    assert f"/loom reject {request_id[:8]} <reason>" in json.dumps(message.blocks)

    async def click(user: str, action: str) -> httpx.Response:
        payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": user},
                   "actions": [{"action_id": action, **buttons[action]}]}  # fmt: skip
        body = urlencode({"payload": json.dumps(payload)})
        return await client.post(ACTIONS, content=body, headers=signed(body))

    viewed = await click("U0DAVE", "loom_view")  # a link: Slack opens it, Loom says nothing
    assert viewed.status_code == 200 and viewed.json() == {}
    refused = await click("U0DAVE", "loom_approve")
    assert "only team payments" in refused.json()["text"]
    assert await decisions(app, request_id) == []
    approved = await click("U0ALICE", "loom_approve")
    assert approved.status_code == 200, approved.text
    assert "it goes on" in approved.json()["text"]
    assert await decisions(app, request_id) == [("alice@loom.test", "approve", "")]
    body = urlencode(
        {
            "payload": json.dumps(
                {
                    "team": {"id": TEAM},
                    "user": {"id": "U0ALICE"},
                    "actions": [{"action_id": "loom_approve", "value": request_id}],
                }
            )
        }
    )
    forged = await client.post(ACTIONS, content=body, headers=signed(body, secret="wrong"))
    assert forged.status_code == 401


async def test_a_linked_approver_approves_from_teams(
    app: FastAPI, client: httpx.AsyncClient, loom_api: Api, admin_headers: dict[str, str],  # noqa: F811
) -> None:  # fmt: skip
    made = await client.post("/api/v1/notify/chat-workspaces/teams",
                             json={"security_token": teams.TOKEN}, headers=admin_headers)  # fmt: skip
    assert made.status_code == 201, made.text
    url = str(httpx.URL(made.json()["endpoint_url"]).path)
    alice = bearer(await token_for(app, "alice@loom.test"))
    code = await teams.link(client, url, alice, teams.OPS)
    assert "alice@loom.test" in await teams.say(client, url, teams.OPS, f"link {code}")
    request_id = await waiting(loom_api)
    unlinked = await teams.say(client, url, teams.EVE, f"approve {request_id}")
    assert "Loom does not know you yet" in unlinked and await decisions(app, request_id) == []
    answer = await teams.say(client, url, teams.OPS, f"approve {request_id} ok from Teams")
    assert "it goes on" in answer, answer
    assert await decisions(app, request_id) == [("alice@loom.test", "approve", "ok from Teams")]
    async with app.state.runtime.sessions() as s:
        [entry] = await s.scalars(select(AuditEntry).where(AuditEntry.action == "request.approve"))
    assert entry.after is not None and entry.after["note"] == "from Teams by Ann Operator"
