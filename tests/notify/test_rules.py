"""Rules end to end: alerts open an incident, the dispatcher reads the incident's
timeline, the matching rules' channels get it (in order, until a rule that stops), an
acknowledgement follows, and nothing is sent twice when the dispatcher reads again."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from loom.demo.fakes.server import FakeServer, Reply
from loom.notify.consumer import NotifyConsumers
from tests.conftest import Tenant
from tests.incidents.alert_support import as_source, make_source
from tests.notify.conftest import Notifier

NOTIFY = "/api/v1/notify"


async def post(client: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = await client.post(NOTIFY + path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def webhook(client: httpx.AsyncClient, headers: dict[str, str], name: str, url: str) -> None:
    await post(client, "/channels", {"name": name, "kind": "webhook", "config": {"url": url}},
               headers)  # fmt: skip


def events(fake: FakeServer, path: str) -> list[str]:
    return [c.json()["event"] for c in fake.calls if c.path == path]


async def test_matching_rules_notify_their_channels_once(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    for path in ("/critical", "/everything", "/never"):
        fake.route("POST", path, Reply(200))
        await webhook(client, admin_headers, path.strip("/"), fake.url + path)
    await post(client, "/rules", {
        "name": "critical-pages", "position": 10, "severities": ["critical"],
        "events": ["incident.opened", "incident.acknowledged", "incident.resolved"],
        "channels": ["critical"],
    }, admin_headers)  # fmt: skip
    await post(client, "/rules", {"name": "all-opened", "position": 20, "stop": True,
                                  "events": ["incident.opened"], "channels": ["everything"]},
               admin_headers)  # fmt: skip
    await post(client, "/rules", {"name": "after-stop", "position": 30,
                                  "events": ["incident.opened"], "channels": ["never"]},
               admin_headers)  # fmt: skip
    source = await make_source(client, admin_headers, "generic")
    fired = await client.post(
        "/api/v1/alerts", json={"title": "PostgresDown", "severity": "critical",
                                "labels": {"host": "db-1"}}, headers=as_source(source),
    )  # fmt: skip
    assert fired.status_code == 200, fired.text
    (number,) = fired.json()["incidents"]
    consumers = NotifyConsumers(app.state.runtime)

    assert await consumers.dispatch_once() == 2
    await notifier.run()
    assert events(fake, "/critical") == ["incident.opened"]
    assert events(fake, "/everything") == ["incident.opened"]
    assert events(fake, "/never") == []
    body = next(c.json() for c in fake.calls if c.path == "/critical")
    assert body["incident"]["ref"] == f"INC-{number}"
    assert body["incident"]["severity"] == "critical"

    ack = await client.post(f"/api/v1/incidents/INC-{number}/ack", headers=admin_headers)
    assert ack.status_code == 200, ack.text
    assert await consumers.dispatch_once() == 1
    await notifier.run()
    assert events(fake, "/critical") == ["incident.opened", "incident.acknowledged"]
    assert events(fake, "/everything") == ["incident.opened"]
    acked = [c.json() for c in fake.calls if c.path == "/critical"][-1]
    assert acked["incident"]["actor"] == "admin@loom.test"

    # Read again (within the look-back): nothing is queued twice, whether this process
    # remembers the events or another replica (no memory) reads them: the queue drops
    # the duplicate deliveries.
    assert await consumers.dispatch_once() == 0
    assert await NotifyConsumers(app.state.runtime).dispatch_once() == 0
    await notifier.run()
    assert len(fake.calls) == 3


async def test_bad_rules_are_refused_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant
) -> None:
    await webhook(client, admin_headers, "org-hook",
                  "http://127.0.0.1:9/x")  # fmt: skip
    await post(client, "/channels", {"name": "b-hook", "kind": "webhook", "team": "team-b",
                                     "config": {"url": "http://127.0.0.1:9/y"}},
               tenant.headers["admin-b"])  # fmt: skip
    cases = [
        ({"name": "r", "events": ["incident.opened"], "channels": ["nope"]}, "channels[0]"),
        ({"name": "r", "events": ["test"], "channels": ["org-hook"]}, "events"),
        ({"name": "r", "events": [], "channels": ["org-hook"]}, "events"),
        ({"name": "r", "events": ["incident.opened"], "channels": ["org-hook"],
          "severities": ["huge"]}, "severities[0]"),
        ({"name": "r", "events": ["incident.opened"], "channels": ["org-hook"],
          "time_of_day": {"from": "25:00", "to": "07:00"}}, "time_of_day.from"),
        ({"name": "r", "events": ["incident.opened"], "channels": ["org-hook"],
          "time_of_day": {"from": "22:00", "to": "07:00", "time_zone": "Mars/Olympus"}},
         "time_of_day.time_zone"),
        ({"name": "r", "events": ["incident.opened"], "channels": ["org-hook"],
          "time_of_day": {"from": "22:00", "to": "07:00", "weekdays": ["fr"]}},
         "time_of_day.weekdays[0]"),
        ({"name": "r", "events": ["incident.opened"], "channels": ["org-hook"],
          "time_of_day": {"from": "22:00"}}, "time_of_day.to"),
        ({"name": "r", "events": ["incident.opened"], "channels": ["org-hook"],
          "labels": {"region": []}}, "labels.region"),
        # A rule of team A cannot send to team B's channel.
        ({"name": "r", "team": "team-a", "events": ["incident.opened"],
          "channels": ["b-hook"]}, "channels[0]"),
    ]  # fmt: skip
    for body, field in cases:
        response = await client.post(NOTIFY + "/rules", json=body,
                                     headers=tenant.headers["admin-a"] if body.get("team")
                                     else admin_headers)  # fmt: skip
        assert response.status_code in (400, 422), (field, response.text)
        fields = [d["field"] for d in response.json()["error"]["details"]]
        assert any(f.endswith(field) for f in fields), (field, fields)
    listed = await client.get(NOTIFY + "/rules", headers=admin_headers)
    assert listed.json()["items"] == []


async def test_a_rule_fires_at_most_its_hourly_limit_per_incident(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/hook", Reply(200))
    await webhook(client, admin_headers, "hook", fake.url + "/hook")
    await post(client, "/rules", {
        "name": "chatty", "max_per_hour": 2, "channels": ["hook"],
        "events": ["incident.opened", "incident.acknowledged", "incident.resolved"],
    }, admin_headers)  # fmt: skip
    source = await make_source(client, admin_headers, "generic")
    fired = await client.post("/api/v1/alerts", json={"title": "Flapping", "severity": "warning"},
                              headers=as_source(source))  # fmt: skip
    (number,) = fired.json()["incidents"]
    for verb in ("ack", "resolve"):
        done = await client.post(f"/api/v1/incidents/INC-{number}/{verb}", headers=admin_headers)
        assert done.status_code == 200, done.text
    assert await NotifyConsumers(app.state.runtime).dispatch_once() == 2
    await notifier.run()
    assert events(fake, "/hook") == ["incident.opened", "incident.acknowledged"]
    log = await client.get(NOTIFY + "/notifications", params={"status": "muted"},
                           headers=admin_headers)  # fmt: skip
    (muted,) = log.json()["items"]
    assert muted["event"] == "incident.resolved" and "2 times in the last hour" in muted["error"]


async def test_label_and_time_conditions_are_shown_back(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await webhook(client, admin_headers, "pager", "http://127.0.0.1:9/x")
    night = {"from": "22:00", "to": "07:00", "weekdays": ["mon", "tue"],
             "time_zone": "Europe/Paris"}  # fmt: skip
    body = {"name": "db-nights", "events": ["incident.opened", "incident.severity_raised"],
            "labels": {"team": "db", "region": ["eu-west-1", "eu-central-1"]},
            "time_of_day": night, "channels": ["pager"]}  # fmt: skip
    made = await post(client, "/rules", body, admin_headers)
    labels = {"team": ["db"], "region": ["eu-west-1", "eu-central-1"]}  # one value: a list
    assert (made["labels"], made["time_of_day"]) == (labels, night)
    listed = (await client.get(NOTIFY + "/rules", headers=admin_headers)).json()["items"]
    assert (listed[0]["labels"], listed[0]["time_of_day"]) == (labels, night)
    body.pop("time_of_day")
    replaced = await client.put(NOTIFY + f"/rules/{made['id']}", json=body, headers=admin_headers)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["time_of_day"] is None
