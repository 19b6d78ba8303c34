"""Consolidation: a storm of alerts joining an incident already notified makes one
updated message per consolidation window to the channels told about it (a Slack bot
edits its message in place, a webhook gets one "incident.updated"), never one per alert;
PagerDuty gets none; nothing follows a resolution; updates count against no rule."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from loom.db.types import utcnow
from loom.demo.fakes.pagerduty import FakePagerDuty
from loom.demo.fakes.server import FakeServer, Reply
from loom.demo.fakes.slack import FakeSlack
from loom.incidents.models import Incident
from loom.notify import registry
from loom.notify.channels import email_body, slack_blocks, teams, webhook_body
from loom.notify.channels.base import PermanentFailure, Target
from loom.notify.channels.pagerduty import PagerDutySender
from loom.notify.consolidation import window_of
from loom.notify.consumer import NotifyConsumers
from loom.notify.message import IncidentMessage, NotifyEvent
from tests.incidents.alert_support import as_source, make_source
from tests.notify.conftest import Notifier

NOTIFY = "/api/v1/notify"
WINDOW = 120  # the default `notify.consolidate_seconds`


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as fake:
        yield fake


async def post(client: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def alerts(
    client: httpx.AsyncClient, source: dict[str, Any], names: list[str], status: str = "firing"
) -> list[int]:
    """Alerts on host db-1 (so they group into one incident); the incidents touched."""
    body = {"alerts": [{"title": n, "fingerprint": n, "status": status, "severity": "critical",
                        "labels": {"host": "db-1"}} for n in names]}  # fmt: skip
    touched: list[int] = (await post(client, "/api/v1/alerts", body, as_source(source)))[
        "incidents"
    ]
    return touched


async def step(app: FastAPI, notifier: Notifier, seconds: float = 0) -> int:
    """Move the clock, run a dispatcher pass (of the one dispatching process, which
    remembers what it dispatched) and the consumers; deliveries queued."""
    notifier.clock.advance(seconds)
    consumers = app.state.runtime.extras.setdefault(
        "test_dispatcher", NotifyConsumers(app.state.runtime)
    )
    queued: int = await consumers.dispatch_once()
    await notifier.run()
    return queued


async def opened_windows_ago(app: FastAPI, number: int, windows: int) -> None:
    """Travel in time: Loom opened incident `number` `windows` windows (and a second) ago."""
    ago = timedelta(seconds=windows * WINDOW + 1)
    async with app.state.runtime.sessions() as s, s.begin():
        await s.execute(
            update(Incident).where(Incident.number == number).values(created_at=utcnow() - ago)
        )


def hook_events(fake: FakeServer) -> list[dict[str, Any]]:
    return [c.json() for c in fake.calls if c.path == "/hook"]


async def channels_and_rule(
    client: httpx.AsyncClient, headers: dict[str, str], slack: FakeSlack,
    pagerduty: FakePagerDuty, fake: FakeServer,
) -> None:  # fmt: skip
    await post(client, NOTIFY + "/channels", {
        "name": "slack-incidents", "kind": "slack",
        "config": {"mode": "bot", "channel": "#incidents", "api_base": slack.api_base},
        "secrets": {"bot_token": slack.token}}, headers)  # fmt: skip
    await post(client, NOTIFY + "/channels", {
        "name": "pager", "kind": "pagerduty", "config": {"events_url": pagerduty.events_url},
        "secrets": {"routing_key": pagerduty.routing_key}}, headers)  # fmt: skip
    fake.route("POST", "/hook", Reply(200))
    await post(client, NOTIFY + "/channels", {"name": "hook", "kind": "webhook",
                                              "config": {"url": fake.url + "/hook"}}, headers)  # fmt: skip
    # Two firings an hour: if updates counted, the acknowledgement would be muted.
    await post(client, NOTIFY + "/rules", {
        "name": "db", "max_per_hour": 2, "channels": ["slack-incidents", "pager", "hook"],
        "events": ["incident.opened", "incident.acknowledged", "incident.resolved"]},
        headers)  # fmt: skip


async def test_a_storm_is_one_slack_message_edited_and_one_webhook_update_per_window(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, slack: FakeSlack, pagerduty: FakePagerDuty, fake: FakeServer,
) -> None:  # fmt: skip
    await channels_and_rule(client, admin_headers, slack, pagerduty, fake)
    source = await make_source(client, admin_headers, "generic")
    (number,) = await alerts(client, source, ["PostgresDown"])
    assert await step(app, notifier) == 3
    # The storm: 13 more alerts join in several batches, then 5 of them resolve.
    for batch in (["Replication-1", "Replication-2"], [f"Conn-{i}" for i in range(6)],
                  [f"Disk-{i}" for i in range(5)]):  # fmt: skip
        assert await alerts(client, source, batch) == [number]
        assert await step(app, notifier, 5) == 0  # no message per alert
    await alerts(client, source, [f"Conn-{i}" for i in range(5)], status="resolved")
    await step(app, notifier, 5)
    assert len(hook_events(fake)) == 1 and slack.messages("#incidents")[0].edits == 0

    await step(app, notifier, WINDOW)  # the window's end: one update
    posts = [c for c in slack.calls if c.path.endswith("chat.postMessage")]
    edits = [c for c in slack.calls if c.path.endswith("chat.update")]
    assert len(posts) == 1 and len(edits) == 1
    (message,) = slack.messages("#incidents")
    assert "14 alerts, 9 firing" in message.text and message.edits == 1
    opened, updated = hook_events(fake)
    assert (opened["event"], updated["event"]) == ("incident.opened", "incident.updated")
    assert updated["incident"]["alert_count"] == 14 and updated["incident"]["firing_count"] == 9
    assert updated["incident"]["headline"].endswith("— 14 alerts, 9 firing")
    assert [e["event_action"] for e in pagerduty.events] == ["trigger"]  # PD: no update

    # Read again by a replica that remembers nothing, and later: nothing more.
    assert await NotifyConsumers(app.state.runtime).dispatch_once() == 0
    await step(app, notifier, WINDOW)
    assert len(hook_events(fake)) == 2

    # The acknowledgement still fires the rule (updates do not count) and edits Slack.
    ack = await client.post(f"/api/v1/incidents/INC-{number}/ack", headers=admin_headers)
    assert ack.status_code == 200, ack.text
    assert await step(app, notifier) == 3
    assert [e["event"] for e in hook_events(fake)][-1] == "incident.acknowledged"
    assert "acknowledged" in slack.messages("#incidents")[0].text


async def test_the_next_window_gets_its_own_update_and_a_resolution_ends_them(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, slack: FakeSlack, pagerduty: FakePagerDuty, fake: FakeServer,
) -> None:  # fmt: skip
    await channels_and_rule(client, admin_headers, slack, pagerduty, fake)
    source = await make_source(client, admin_headers, "generic")
    (number,) = await alerts(client, source, ["PostgresDown"])
    await step(app, notifier)
    # The alerts that opened it are in the "opened" message: no update for them, even
    # when a replica that remembers nothing reads them again.
    await NotifyConsumers(app.state.runtime).dispatch_once()
    await step(app, notifier, WINDOW + 1)
    assert [e["event"] for e in hook_events(fake)] == ["incident.opened"]
    await alerts(client, source, ["Replication-1"])
    await step(app, notifier)
    await step(app, notifier, WINDOW + 1)
    assert [e["event"] for e in hook_events(fake)] == ["incident.opened", "incident.updated"]

    # Windows count from when Loom opened the incident: move that a window back, so
    # the next alerts fall in the second window.
    await opened_windows_ago(app, number, 1)
    await alerts(client, source, ["Replication-2", "Replication-3"])
    await step(app, notifier)
    await step(app, notifier, WINDOW + 1)
    updates = [e for e in hook_events(fake) if e["event"] == "incident.updated"]
    assert [u["incident"]["alert_count"] for u in updates] == [2, 4]
    assert slack.messages("#incidents")[0].edits == 2

    # Alerts in a third window, then the resolution before it ends: no update after it.
    await opened_windows_ago(app, number, 2)
    await alerts(client, source, ["Replication-4"])
    await step(app, notifier)
    resolved = await client.post(f"/api/v1/incidents/INC-{number}/resolve", headers=admin_headers)
    assert resolved.status_code == 200, resolved.text
    await step(app, notifier, WINDOW + 1)
    assert [e["event"] for e in hook_events(fake)][-1] == "incident.resolved"
    assert len([e for e in hook_events(fake) if e["event"] == "incident.updated"]) == 2


async def test_an_update_retried_later_shows_the_incident_as_it_is_then(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, slack: FakeSlack, pagerduty: FakePagerDuty, fake: FakeServer,
) -> None:  # fmt: skip
    await channels_and_rule(client, admin_headers, slack, pagerduty, fake)
    source = await make_source(client, admin_headers, "generic")
    await alerts(client, source, ["PostgresDown"])
    await step(app, notifier)
    await alerts(client, source, ["Replication-1"])
    await step(app, notifier)
    fake.route("POST", "/hook", Reply(503))
    await step(app, notifier, WINDOW + 1)  # the update fails for now
    await alerts(client, source, ["Replication-2", "Replication-3"])
    await step(app, notifier)
    fake.route("POST", "/hook", Reply(200))
    await step(app, notifier, 3)  # its retry, built again: 4 alerts, not 2
    failed, retried = [c.json() for c in fake.calls if c.path == "/hook"][1:]
    assert failed["incident"]["alert_count"] == 2 and retried["incident"]["alert_count"] == 4
    assert retried["event"] == "incident.updated"


async def test_rules_cannot_route_updates(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await post(client, NOTIFY + "/channels", {"name": "hook", "kind": "webhook",
                                              "config": {"url": "http://127.0.0.1:9/x"}},
               admin_headers)  # fmt: skip
    response = await client.post(NOTIFY + "/rules", headers=admin_headers, json={
        "name": "r", "events": ["incident.updated"], "channels": ["hook"]})  # fmt: skip
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"].endswith("events")


def test_windows_count_from_the_opening() -> None:
    incident = Incident(id=uuid.uuid4(), created_at=utcnow())
    start = incident.created_at
    assert window_of(incident, start, WINDOW) == (0, start + timedelta(seconds=WINDOW))
    assert window_of(incident, start + timedelta(seconds=119), WINDOW)[0] == 0
    assert window_of(incident, start + timedelta(seconds=120), WINDOW) == (
        1,
        start + timedelta(seconds=2 * WINDOW),
    )
    # An entry stamped a hair before the incident's row (same transaction): window 0.
    assert window_of(incident, start - timedelta(microseconds=5), WINDOW)[0] == 0


async def test_every_channel_renders_the_update_with_its_counts() -> None:
    kinds = ("slack", "pagerduty", "teams", "email", "webhook")
    assert [k for k in kinds if not registry.kind(k).updates] == ["pagerduty"]
    now = utcnow()
    message = IncidentMessage(
        event=NotifyEvent.UPDATED, incident_id=str(uuid.uuid4()), ref="INC-7",
        title="orders-db: PostgresDown", status="acknowledged", severity="critical",
        opened_at=now, at=now, url="http://loom.test/ui/incidents/INC-7",
        alert_count=1, firing_count=1,
    )  # fmt: skip
    headline = "[CRITICAL] INC-7 orders-db: PostgresDown — acknowledged, 1 alert, 1 firing"
    assert message.headline() == headline
    assert slack_blocks.render(message)[0]["text"]["text"] == headline
    card = teams.message_body(message)["attachments"][0]["content"]
    assert card["body"][0]["text"] == headline
    mail = email_body.build(message, sender="loom@example.com", recipients=["a@example.com"],
                            previous="<first@example.com>")  # fmt: skip
    assert mail["Subject"] == headline and mail["In-Reply-To"] == "<first@example.com>"
    body = webhook_body.payload(message)
    assert body["event"] == "incident.updated" and body["incident"]["headline"] == headline
    target = Target(kind="pagerduty", config={}, secrets={"routing_key": "k" * 32})
    async with httpx.AsyncClient() as http:
        with pytest.raises(PermanentFailure):  # never routed there; refused, not guessed
            await PagerDutySender().send(target, message, http=http)
