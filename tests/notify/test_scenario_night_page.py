"""The night page: a critical incident at 03:00 pages the primary on-call through
PagerDuty and posts to Slack; nobody acknowledges, so 15 minutes later the backup is
paged; the backup acknowledges with the Slack button, and the escalation stops (the Slack
message shows it acknowledged, nobody else is paged)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from loom.demo.fakes.pagerduty import FakePagerDuty
from loom.demo.fakes.slack import FakeSlack
from loom.notify.consumer import NotifyConsumers
from tests.conftest import Tenant
from tests.incidents.alert_support import as_source, make_source
from tests.notify.conftest import Notifier

NOTIFY = "/api/v1/notify"
PRIMARY_KEY = "R0ut1ngKeyPr1maryDbOnCall0000001"
BACKUP_KEY = "R0ut1ngKeyBackupDbOnCall00000002"
SIGNING = "a-signing-secret-of-the-loom-app"


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    with FakePagerDuty(PRIMARY_KEY) as fake:
        fake.routing_keys.add(BACKUP_KEY)
        yield fake


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(users={"U0BACKUP": "operator-a@loom.test"}) as fake:
        yield fake


async def post(client: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def step(app: FastAPI, notifier: Notifier, minutes: float = 0) -> None:
    notifier.clock.advance(minutes * 60)
    await NotifyConsumers(app.state.runtime).dispatch_once()
    await notifier.run()


def pages(pagerduty: FakePagerDuty) -> list[tuple[str, str]]:
    who = {PRIMARY_KEY: "primary", BACKUP_KEY: "backup"}
    return [(who[e["routing_key"]], e["event_action"]) for e in pagerduty.events]


async def test_a_night_page_escalates_to_the_backup_who_acknowledges_in_slack(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant,
    notifier: Notifier, pagerduty: FakePagerDuty, slack: FakeSlack,
) -> None:  # fmt: skip
    notifier.clock.moment = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 03:00
    for name, key in (("pd-primary", PRIMARY_KEY), ("pd-backup", BACKUP_KEY)):
        await post(client, NOTIFY + "/channels", {
            "name": name, "kind": "pagerduty", "config": {"events_url": pagerduty.events_url},
            "secrets": {"routing_key": key}}, admin_headers)  # fmt: skip
    await post(client, NOTIFY + "/channels", {
        "name": "slack-incidents", "kind": "slack",
        "config": {"mode": "bot", "channel": "#incidents", "api_base": slack.api_base},
        "secrets": {"bot_token": slack.token}}, admin_headers)  # fmt: skip
    await post(client, NOTIFY + "/policies", {"name": "db-on-call", "levels": [
        {"delay_minutes": 0, "channels": ["pd-primary"]},
        {"delay_minutes": 15, "channels": ["pd-backup"]}]}, admin_headers)  # fmt: skip
    await post(client, NOTIFY + "/rules", {
        "name": "critical", "severities": ["critical"], "policy": "db-on-call",
        "events": ["incident.opened", "incident.acknowledged", "incident.resolved"],
        "channels": ["slack-incidents"]}, admin_headers)  # fmt: skip
    await post(client, NOTIFY + "/chat-workspaces/slack", {
        "workspace_id": "T0LOOM", "api_base": slack.api_base, "signing_secret": SIGNING,
        "bot_token": slack.token}, admin_headers)  # fmt: skip

    source = await make_source(client, admin_headers, "generic")
    fired = await post(client, "/api/v1/alerts", {"title": "PostgresDown", "severity": "critical",
                                                  "labels": {"host": "db-1"}}, as_source(source))  # fmt: skip
    (number,) = fired["incidents"]
    incident = (await client.get(f"/api/v1/incidents/INC-{number}", headers=admin_headers)).json()

    await step(app, notifier)  # 03:00
    assert pages(pagerduty) == [("primary", "trigger")]
    (message,) = slack.messages("#incidents")
    assert "PostgresDown" in message.text

    await step(app, notifier, 14)  # 03:14: still only the primary
    assert pages(pagerduty) == [("primary", "trigger")]
    await step(app, notifier, 1.5)  # 03:15:30: the backup is paged
    assert pages(pagerduty) == [("primary", "trigger"), ("backup", "trigger")]

    # The backup presses Acknowledge on the Slack message.
    payload = {"type": "block_actions", "team": {"id": "T0LOOM"}, "user": {"id": "U0BACKUP"},
               "actions": [{"action_id": "loom_ack", "value": incident["id"]}]}  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()))
    signature = "v0=" + hmac.new(SIGNING.encode(), f"v0:{stamp}:{body}".encode(),
                                 hashlib.sha256).hexdigest()  # fmt: skip
    pressed = await client.post("/api/v1/chatops/slack/interactions", content=body, headers={
        "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert pressed.status_code == 200, pressed.text
    assert "acknowledged" in pressed.json()["text"]

    await step(app, notifier, 1)
    (message,) = slack.messages("#incidents")
    assert message.edits == 1 and "acknowledged" in message.text
    await step(app, notifier, 60)  # the escalation stopped: nobody else is paged
    assert pages(pagerduty) == [("primary", "trigger"), ("backup", "trigger")]
    log = await client.get(f"/api/v1/incidents/INC-{number}/notifications", headers=admin_headers)
    assert {r["status"] for r in log.json()["items"]} == {"sent"}
