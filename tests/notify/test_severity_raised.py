"""`incident.severity_raised`: an alert seen again at a worse severity (or a person)
raises the incident's severity, the dispatcher notifies the rules that ask for it; a
lowered severity notifies nobody."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from loom.demo.fakes.server import FakeServer, Reply
from loom.notify.consumer import NotifyConsumers
from tests.incidents.alert_support import as_source, make_source
from tests.notify.conftest import Notifier
from tests.notify.test_rules import events, post, webhook


async def test_a_raised_severity_notifies_and_a_lowered_one_does_not(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/pager", Reply(200))
    await webhook(client, admin_headers, "pager", fake.url + "/pager")
    await post(client, "/rules", {
        "name": "worse", "events": ["incident.opened", "incident.severity_raised"],
        "channels": ["pager"],
    }, admin_headers)  # fmt: skip
    source = await make_source(client, admin_headers, "generic")
    alert = {"title": "DiskFilling", "severity": "warning", "labels": {"host": "db-1"}}
    fired = await client.post("/api/v1/alerts", json=alert, headers=as_source(source))
    assert fired.status_code == 200, fired.text
    (number,) = fired.json()["incidents"]
    consumers = NotifyConsumers(app.state.runtime)
    assert await consumers.dispatch_once() == 1
    await notifier.run()
    assert events(fake, "/pager") == ["incident.opened"]

    # The same alert (same fingerprint), now critical: the incident follows it.
    again = await client.post("/api/v1/alerts", json={**alert, "severity": "critical"},
                              headers=as_source(source))  # fmt: skip
    assert again.status_code == 200, again.text
    assert await consumers.dispatch_once() == 1
    await notifier.run()
    assert events(fake, "/pager") == ["incident.opened", "incident.severity_raised"]
    raised = fake.calls[-1].json()["incident"]
    assert (raised["ref"], raised["severity"]) == (f"INC-{number}", "critical")

    # Lowered by a person: on the timeline, but no notification.
    url = f"/api/v1/incidents/INC-{number}"
    lowered = await client.patch(url, json={"severity": "info"}, headers=admin_headers)
    assert lowered.status_code == 200, lowered.text
    assert await consumers.dispatch_once() == 0
    # Raised again by a person: notified, naming them.
    raised_again = await client.patch(url, json={"severity": "warning"}, headers=admin_headers)
    assert raised_again.status_code == 200, raised_again.text
    assert await consumers.dispatch_once() == 1
    await notifier.run()
    assert events(fake, "/pager")[-1] == "incident.severity_raised"
    assert fake.calls[-1].json()["incident"]["actor"] == "admin@loom.test"
    # Read again: nothing more.
    assert await NotifyConsumers(app.state.runtime).dispatch_once() == 0
    await notifier.run()
    assert len(fake.calls) == 3
