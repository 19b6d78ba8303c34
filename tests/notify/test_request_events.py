"""Provisioning events as notifications: a request whose task fails and an approval a task
waits for reach the channels of the rules naming them (the requester's team, or the
approving team), once however often the dispatcher reads them; other teams' rules, rules
with incident conditions and PagerDuty (for approvals) send nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.actions.waits import CheckResult
from loom.auth.models import Team, User
from loom.db.types import utcnow
from loom.demo.fakes.server import FakeServer, Reply
from loom.demo.fakes.slack import FakeSlack
from loom.notify.consumer import NotifyConsumers
from loom.workers.runner import Outcome
from loom.workers.wait_checks import check_due
from tests.conftest import ADMIN_EMAIL
from tests.notify.conftest import Notifier
from tests.provisioning.waits_support import (  # noqa: F401 - fixtures
    PUBLIC_URL,
    Api,
    Waiter,
    drain,
    loom_api,
    notify_server,
    waiter,
    waits_app,
)

NOTIFY = "/api/v1/notify"
LATER = timedelta(minutes=2)  # past the test wait's 60 s between checks


@pytest.fixture
def app(waits_app: FastAPI) -> FastAPI:  # noqa: F811 - the notify fixtures run on it
    return waits_app


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


async def admin(loom_api: Api) -> httpx.AsyncClient:  # noqa: F811
    return await loom_api.as_(ADMIN_EMAIL)


async def create(loom_api: Api, path: str, body: dict[str, Any]) -> None:  # noqa: F811
    response = await (await admin(loom_api)).post(NOTIFY + path, json=body)
    assert response.status_code == 201, response.text


async def add_team(app: FastAPI, slug: str) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await s.scalar(select(User.org_id).where(User.email == ADMIN_EMAIL))
        s.add(Team(org_id=org_id, slug=slug, name=slug))


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every text of the blocks, joined."""
    found: list[str] = []
    for block in blocks:
        for part in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(part, dict):
                text = part.get("text")
                found.append(text["text"] if isinstance(text, dict) else str(text or ""))
    return "\n".join(found)


async def test_a_failed_request_posts_one_slack_message(
    app: FastAPI, loom_api: Api, waiter: Waiter, notifier: Notifier, slack: FakeSlack,  # noqa: F811
) -> None:  # fmt: skip
    await add_team(app, "ops")
    await create(loom_api, "/channels", {
        "name": "slack-requests", "kind": "slack", "config": {"mode": "webhook"},
        "secrets": {"webhook_url": slack.webhook_url},
    })  # fmt: skip
    await create(loom_api, "/rules", {"name": "shop-failures", "team": "shop",
                                      "events": ["request.failed"],
                                      "channels": ["slack-requests"]})  # fmt: skip
    # Neither another team's rule, nor a rule with an incident's condition, fires.
    await create(loom_api, "/rules", {"name": "ops-failures", "team": "ops",
                                      "events": ["request.failed"],
                                      "channels": ["slack-requests"]})  # fmt: skip
    await create(loom_api, "/rules", {"name": "critical-only", "severities": ["critical"],
                                      "events": ["request.failed"],
                                      "channels": ["slack-requests"]})  # fmt: skip
    request_id = await loom_api.submit("ticketed")
    assert await drain(loom_api.runtime) == [Outcome.WAITING]
    waiter.answers["shop-1"] = [CheckResult.failed("disk quota exceeded on vol-7 <db>")]
    assert await check_due(loom_api.runtime, utcnow() + LATER) == {"failed": 1}
    consumers = NotifyConsumers(app.state.runtime)

    assert await consumers.dispatch_once() == 1
    await notifier.run()
    (message,) = slack.messages("#incidents")
    assert message.text == "Request failed: ticketed for team shop"
    shown = texts(message.blocks)
    assert "disk quota exceeded on vol-7 &lt;db&gt;" in shown
    assert "rita@loom.test" in shown and "1 (ticket)" in shown
    buttons = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert [b["url"] for b in buttons] == [f"{PUBLIC_URL}/ui/requests/{request_id}"]

    # Read again, by this process or another replica: still one message.
    assert await consumers.dispatch_once() == 0
    assert await NotifyConsumers(app.state.runtime).dispatch_once() == 0
    await notifier.run()
    assert len(slack.messages("#incidents")) == 1
    log = await (await admin(loom_api)).get(NOTIFY + "/notifications")
    assert [(n["event"], n["status"]) for n in log.json()["items"]] == [("request.failed", "sent")]


async def test_an_approval_notifies_the_approving_teams_rule_only(
    app: FastAPI, loom_api: Api, notifier: Notifier, fake: FakeServer,  # noqa: F811
) -> None:  # fmt: skip
    await add_team(app, "ops")
    for name in ("payments", "ops", "shop"):
        fake.route("POST", f"/{name}", Reply(200))
        await create(loom_api, "/channels", {"name": f"{name}-hook", "kind": "webhook",
                                             "config": {"url": f"{fake.url}/{name}"}})  # fmt: skip
    fake.route("POST", "/pd", Reply(202, json={"status": "success"}))
    await create(loom_api, "/channels", {
        "name": "pager", "kind": "pagerduty", "config": {"events_url": f"{fake.url}/pd"},
        "secrets": {"routing_key": "R" * 32},
    })  # fmt: skip
    await create(loom_api, "/rules", {"name": "payments-approvals", "team": "payments",
                                      "events": ["approval.needed"],
                                      "channels": ["payments-hook", "pager"]})  # fmt: skip
    await create(loom_api, "/rules", {"name": "ops-approvals", "team": "ops",
                                      "events": ["approval.needed"],
                                      "channels": ["ops-hook"]})  # fmt: skip
    await create(loom_api, "/rules", {"name": "shop-failures", "team": "shop",
                                      "events": ["request.failed"],
                                      "channels": ["shop-hook"]})  # fmt: skip
    request_id = await loom_api.submit("gated")
    assert await drain(loom_api.runtime) == [Outcome.WAITING]
    consumers = NotifyConsumers(app.state.runtime)

    assert await consumers.dispatch_once() == 1
    await notifier.run()
    [call] = fake.calls
    assert call.path == "/payments"
    body = call.json()
    assert body["event"] == "approval.needed"
    assert body["request"]["id"] == request_id
    assert body["request"]["approvers"] == "team payments or carol@loom.test"
    assert body["request"]["waiting_for"] == (
        "waiting for approval by team payments or carol@loom.test (0 of 1)"
    )
    # PagerDuty pages nobody for an approval: logged as muted, once.
    assert await consumers.dispatch_once() == 0
    log = await (await admin(loom_api)).get(NOTIFY + "/notifications")
    assert sorted((n["channel"], n["status"]) for n in log.json()["items"]) == [
        ("pager", "muted"), ("payments-hook", "sent"),
    ]  # fmt: skip


async def test_an_approval_approved_at_once_notifies_nobody(
    app: FastAPI, loom_api: Api, notifier: Notifier, fake: FakeServer,  # noqa: F811
) -> None:  # fmt: skip
    fake.route("POST", "/all", Reply(200))
    await create(loom_api, "/channels", {"name": "all-hook", "kind": "webhook",
                                         "config": {"url": f"{fake.url}/all"}})  # fmt: skip
    await create(loom_api, "/rules", {"name": "approvals", "events": ["approval.needed"],
                                      "channels": ["all-hook"]})  # fmt: skip
    await loom_api.submit("gated", size="small")  # autoApproveIf is true
    # The approval opens and closes in one transaction; the next step completes.
    assert await drain(loom_api.runtime) == [Outcome.WAITING, Outcome.COMPLETED]
    assert await NotifyConsumers(app.state.runtime).dispatch_once() == 0
    await notifier.run()
    assert fake.calls == []


async def test_rules_may_name_the_events_no_domain_fires_yet(loom_api: Api) -> None:  # noqa: F811
    await create(loom_api, "/channels", {"name": "hook", "kind": "webhook",
                                         "config": {"url": "http://127.0.0.1:9/x"}})  # fmt: skip
    later = ["runbook.awaiting_approval", "runbook.failed", "predictive.alert"]
    await create(loom_api, "/rules", {"name": "later", "events": later, "channels": ["hook"]})
    listed = await (await admin(loom_api)).get(NOTIFY + "/rules")
    assert [r["events"] for r in listed.json()["items"]] == [later]
    refused = await (await admin(loom_api)).post(NOTIFY + "/rules", json={
        "name": "typo", "events": ["request.failes"], "channels": ["hook"]})  # fmt: skip
    assert refused.status_code in (400, 422), refused.text
    assert refused.json()["error"]["details"][0]["field"].startswith("events")
