"""An incident's messages through the queue to the fakes of real services: Slack updates
its first message in place as the incident moves on; PagerDuty gets trigger, acknowledge
and resolve on one dedup key, and a throttled event is retried, never dropped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.db.types import utcnow
from loom.demo.fakes.pagerduty import FakePagerDuty
from loom.demo.fakes.slack import FakeSlack
from loom.notify import delivery
from loom.notify.message import IncidentMessage, NotifyEvent
from loom.notify.models import Channel
from loom.queue.factory import queue_for
from tests.conftest import Tenant
from tests.incidents.factories import create_incident
from tests.notify.conftest import Notifier

CHANNELS = "/api/v1/notify/channels"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as fake:
        yield fake


async def channel(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> uuid.UUID:
    response = await client.post(CHANNELS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def notify(app: FastAPI, channel_id: uuid.UUID, incident: uuid.UUID, *events: str) -> None:
    """Queue the incident's `events` to the channel, in order."""
    runtime = app.state.runtime
    async with runtime.sessions() as s, s.begin():
        target = await s.scalar(select(Channel).where(Channel.id == channel_id))
        assert target is not None
        for event in events:
            message = IncidentMessage(
                event=NotifyEvent(event), incident_id=str(incident), ref="INC-1",
                title="orders-db: PostgresDown — 5 more services affected",
                status={"incident.acknowledged": "acknowledged",
                        "incident.resolved": "resolved"}.get(event, "triggered"),
                severity="critical", opened_at=utcnow(), at=utcnow(),
                url="http://loom.test/ui/incidents/INC-1", root_cause="orders-db",
                services=("orders-db", "orders", "api"), alert_count=14, firing_count=9,
            )  # fmt: skip
            await delivery.enqueue(queue_for(runtime, delivery.NOTIFY_QUEUE), target, message,
                                   session=s)  # fmt: skip


async def test_slack_updates_its_message_in_place(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, slack: FakeSlack, tenant: Tenant,
) -> None:  # fmt: skip
    channel_id = await channel(client, admin_headers, {
        "name": "slack-incidents", "kind": "slack",
        "config": {"mode": "bot", "channel": "#incidents", "api_base": slack.api_base},
        "secrets": {"bot_token": slack.token},
    })  # fmt: skip
    incident = await create_incident(app, tenant.org_id)
    await notify(app, channel_id, incident.id, "incident.opened")
    await notifier.run()
    await notify(app, channel_id, incident.id, "incident.acknowledged", "incident.resolved")
    await notifier.run()
    (message,) = slack.messages("#incidents")
    assert message.edits == 2
    assert "resolved" in message.text
    buttons = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert "loom_ack" not in [b.get("action_id") for b in buttons]


async def test_pagerduty_follows_the_incident_and_a_throttle_is_retried(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, pagerduty: FakePagerDuty, tenant: Tenant,
) -> None:  # fmt: skip
    channel_id = await channel(client, admin_headers, {
        "name": "pager", "kind": "pagerduty", "config": {"events_url": pagerduty.events_url},
        "secrets": {"routing_key": pagerduty.routing_key},
    })  # fmt: skip
    incident = await create_incident(app, tenant.org_id)
    pagerduty.rate_limit(1)
    await notify(app, channel_id, incident.id, "incident.opened", "incident.resolved")
    await notifier.run()
    assert pagerduty.events == []  # throttled; the resolve waits behind the trigger
    notifier.clock.advance(3)
    await notifier.run()
    await notifier.run()
    assert [e["event_action"] for e in pagerduty.events] == ["trigger", "resolve"]
    assert {e["dedup_key"] for e in pagerduty.events} == {f"loom-{incident.id}"}
    assert pagerduty.state(f"loom-{incident.id}") == "resolved"
