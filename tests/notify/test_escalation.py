"""Escalation policies on a clock the test moves: level 2 fires after its delay unless
the incident is acknowledged; a reopened incident starts again at level 1. Every run of
the consumers is a fresh set (as after a restart): the timers live in the queue."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from loom.demo.fakes.server import FakeServer, Reply
from loom.notify.consumer import NotifyConsumers
from tests.incidents.alert_support import as_source, make_source
from tests.notify.conftest import Notifier

NOTIFY = "/api/v1/notify"
INCIDENTS = "/api/v1/incidents"


async def post(client: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture
async def on_call(
    client: httpx.AsyncClient, admin_headers: dict[str, str], fake: FakeServer
) -> dict[str, Any]:
    """Channels `primary` and `backup`, a policy paging the backup 15 minutes after the
    primary, and a rule starting it for critical incidents."""
    for name in ("primary", "backup"):
        fake.route("POST", f"/{name}", Reply(200))
        await post(client, NOTIFY + "/channels", {"name": name, "kind": "webhook",
                                                  "config": {"url": f"{fake.url}/{name}"}},
                   admin_headers)  # fmt: skip
    policy = await post(client, NOTIFY + "/policies", {"name": "on-call", "levels": [
        {"delay_minutes": 0, "channels": ["primary"]},
        {"delay_minutes": 15, "channels": ["backup"]},
    ]}, admin_headers)  # fmt: skip
    rule = await post(client, NOTIFY + "/rules", {
        "name": "critical", "severities": ["critical"], "policy": "on-call",
        "events": ["incident.opened", "incident.acknowledged", "incident.resolved",
                   "incident.reopened"],
    }, admin_headers)  # fmt: skip
    assert rule["policy"] == "on-call" and rule["channels"] == []
    return {"policy": policy, "rule": rule}


async def open_incident(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> str:
    source = await make_source(client, admin_headers, "generic")
    fired = await post(client, "/api/v1/alerts", {"title": "PostgresDown", "severity": "critical",
                                                  "labels": {"host": "db-1"}}, as_source(source))  # fmt: skip
    (number,) = fired["incidents"]
    return f"INC-{number}"


def paged(fake: FakeServer, name: str) -> list[dict[str, Any]]:
    return [c.json() for c in fake.calls if c.path == f"/{name}"]


async def step(app: FastAPI, notifier: Notifier, minutes: float = 0) -> None:
    """Time passes; a fresh dispatcher and consumers do what is due."""
    notifier.clock.advance(minutes * 60)
    await NotifyConsumers(app.state.runtime).dispatch_once()
    await notifier.run()


async def test_level_two_fires_after_its_delay_unless_acknowledged(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer, on_call: dict[str, Any],
) -> None:  # fmt: skip
    ref = await open_incident(client, admin_headers)
    await step(app, notifier)
    (first,) = paged(fake, "primary")
    assert first["incident"]["ref"] == ref
    assert first["incident"]["extra"]["escalation"].startswith("level 1 of 2")
    await step(app, notifier, 14)
    assert paged(fake, "backup") == []
    await step(app, notifier, 1.5)
    (second,) = paged(fake, "backup")
    assert second["incident"]["extra"]["escalation"].startswith("level 2 of 2")
    await step(app, notifier, 60)
    assert len(fake.calls) == 2  # no repeat asked for: it ends there


async def test_an_acknowledgement_stops_it_and_a_reopen_starts_it_again(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer, on_call: dict[str, Any],
) -> None:  # fmt: skip
    ref = await open_incident(client, admin_headers)
    await step(app, notifier)
    await post(client, f"{INCIDENTS}/{ref}/ack", None, admin_headers)
    await step(app, notifier, 5)
    await step(app, notifier, 20)
    assert paged(fake, "backup") == []
    assert len(paged(fake, "primary")) == 1
    await post(client, f"{INCIDENTS}/{ref}/resolve", None, admin_headers)
    await post(client, f"{INCIDENTS}/{ref}/reopen", None, admin_headers)
    await step(app, notifier)
    assert len(paged(fake, "primary")) == 2  # level 1 again
    await step(app, notifier, 16)
    assert len(paged(fake, "backup")) == 1
