"""Maintenance windows: open once or weekly (across midnight, in their time zone); while
one covers an incident's services, its notifications are logged as muted, not sent; a
window is replaced (PUT) with the checks of its creation. Cron windows:
`test_maintenance_cron.py`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from loom.db.types import utcnow
from loom.demo.fakes.server import FakeServer, Reply
from loom.notify.consumer import NotifyConsumers
from loom.notify.maintenance import is_open
from loom.notify.models import MaintenanceWindow
from tests.conftest import Tenant
from tests.incidents.alert_support import as_source, make_source
from tests.notify.conftest import Notifier

NOTIFY = "/api/v1/notify"


def test_a_weekly_window_opens_on_its_days_in_its_time_zone() -> None:
    saturday_night = MaintenanceWindow(
        name="patching", weekdays=["sat"], start_time="23:00", duration_minutes=180,
        time_zone="Europe/Paris",
    )  # fmt: skip
    # 2026-11-28 is a Saturday; Paris is UTC+1 in winter.
    assert not is_open(saturday_night, datetime(2026, 11, 28, 21, 59, tzinfo=UTC))
    assert is_open(saturday_night, datetime(2026, 11, 28, 22, 0, tzinfo=UTC))
    assert is_open(saturday_night, datetime(2026, 11, 29, 0, 59, tzinfo=UTC))  # Sunday
    assert not is_open(saturday_night, datetime(2026, 11, 29, 1, 0, tzinfo=UTC))
    assert not is_open(saturday_night, datetime(2026, 11, 27, 22, 30, tzinfo=UTC))  # Friday


async def test_an_open_window_mutes_and_records(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/hook", Reply(200))
    for path, body in (
        ("/channels", {"name": "hook", "kind": "webhook", "config": {"url": fake.url + "/hook"}}),
        ("/rules", {"name": "all", "events": ["incident.opened"], "channels": ["hook"]}),
        ("/maintenance", {"name": "now", "starts_at": (utcnow() - timedelta(hours=1)).isoformat(),
                          "ends_at": (utcnow() + timedelta(hours=1)).isoformat()}),
    ):  # fmt: skip
        made = await client.post(NOTIFY + path, json=body, headers=admin_headers)
        assert made.status_code == 201, made.text
    listed = await client.get(NOTIFY + "/maintenance", headers=admin_headers)
    assert [(w["name"], w["open_now"]) for w in listed.json()["items"]] == [("now", True)]
    source = await make_source(client, admin_headers, "generic")
    fired = await client.post("/api/v1/alerts", json={"title": "DiskFull", "severity": "critical"},
                              headers=as_source(source))  # fmt: skip
    assert fired.status_code == 200, fired.text
    assert await NotifyConsumers(app.state.runtime).dispatch_once() == 0
    assert await NotifyConsumers(app.state.runtime).dispatch_once() == 0  # read again
    await notifier.run()
    assert fake.calls == []
    log = await client.get(NOTIFY + "/notifications", headers=admin_headers)
    (row,) = log.json()["items"]
    assert row["status"] == "muted" and "maintenance window 'now'" in row["error"]


async def test_bad_windows_are_refused_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    now = utcnow().isoformat()
    cases = [
        ({"name": "w", "starts_at": now}, "ends_at"),
        ({"name": "w", "starts_at": now, "ends_at": now}, "ends_at"),
        ({"name": "w", "weekdays": ["sat"], "start_time": "23:00"}, "duration_minutes"),
        ({"name": "w", "weekdays": ["sat"], "start_time": "23:00", "duration_minutes": 60,
          "time_zone": "Nowhere/Land"}, "time_zone"),
        ({"name": "w", "weekdays": ["caturday"]}, "weekdays[0]"),
    ]  # fmt: skip
    for body, field in cases:
        response = await client.post(NOTIFY + "/maintenance", json=body, headers=admin_headers)
        assert response.status_code in (400, 422), (field, response.text)
        assert field in [d["field"] for d in response.json()["error"]["details"]], field


async def test_a_snoozed_incident_is_muted_and_others_are_not(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/hook", Reply(200))
    for path, body in (
        ("/channels", {"name": "hook", "kind": "webhook", "config": {"url": fake.url + "/hook"}}),
        ("/rules", {"name": "all", "events": ["incident.opened", "incident.acknowledged"],
                    "channels": ["hook"]}),
    ):  # fmt: skip
        made = await client.post(NOTIFY + path, json=body, headers=admin_headers)
        assert made.status_code == 201, made.text
    source = await make_source(client, admin_headers, "generic")
    numbers = []
    for host in ("a", "b"):
        fired = await client.post("/api/v1/alerts", headers=as_source(source), json={
            "title": f"DiskFull {host}", "severity": "warning", "labels": {"host": host}})  # fmt: skip
        numbers += fired.json()["incidents"]
    await NotifyConsumers(app.state.runtime).dispatch_once()
    await notifier.run()
    snoozed = await client.post(NOTIFY + "/snoozes", headers=admin_headers,
                                json={"incident": f"INC-{numbers[0]}", "minutes": 60})  # fmt: skip
    assert snoozed.status_code == 201, snoozed.text
    assert snoozed.json()["open_now"] is True
    for number in numbers:
        acked = await client.post(f"/api/v1/incidents/INC-{number}/ack", headers=admin_headers)
        assert acked.status_code == 200
    await NotifyConsumers(app.state.runtime).dispatch_once()
    await notifier.run()
    acks = [c.json()["incident"]["ref"] for c in fake.calls
            if c.json()["event"] == "incident.acknowledged"]  # fmt: skip
    assert acks == [f"INC-{numbers[1]}"]
    bad = await client.post(NOTIFY + "/snoozes", headers=admin_headers,
                            json={"incident": "INC-1", "service": "x", "minutes": 5})  # fmt: skip
    assert bad.status_code == 422


async def test_put_replaces_a_window_with_the_same_checks(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tenant: Tenant
) -> None:
    admin_a = tenant.headers["admin-a"]
    made = await client.post(NOTIFY + "/maintenance", headers=admin_a, json={
        "name": "patching", "team": "team-a", "weekdays": ["sat"], "start_time": "23:00",
        "duration_minutes": 180})  # fmt: skip
    assert made.status_code == 201, made.text
    other = await client.post(NOTIFY + "/maintenance", headers=admin_headers, json={
        "name": "other", "cron": "0 3 * * *", "duration_minutes": 30})  # fmt: skip
    assert other.status_code == 201, other.text
    path = f"{NOTIFY}/maintenance/{made.json()['id']}"
    cron = {"name": "patching", "team": "team-a", "services": ["orders"], "cron": "0 2 * * 6",
            "duration_minutes": 120, "time_zone": "Europe/Paris"}  # fmt: skip
    replaced = await client.put(path, headers=admin_a, json=cron)
    assert replaced.status_code == 200, replaced.text
    shown = replaced.json()
    assert (shown["cron"], shown["duration_minutes"], shown["time_zone"]) == (
        "0 2 * * 6", 120, "Europe/Paris")  # fmt: skip
    assert (shown["weekdays"], shown["start_time"], shown["services"]) == ([], None, ["orders"])

    refused = [
        ({**cron, "cron": "0 2 * *"}, admin_a, 422, "cron"),
        ({**cron, "weekdays": ["sat"], "start_time": "23:00"}, admin_a, 422, "cron"),
        ({**cron, "name": "other"}, admin_a, 409, None),
        ({**cron, "team": "team-b"}, admin_a, 404, None),  # a team admin A does not see
        (cron, tenant.headers["operator-a"], 403, None),
        (cron, tenant.headers["admin-b"], 404, None),  # not a window team B sees
    ]
    for body, headers, status, field in refused:
        response = await client.put(path, headers=headers, json=body)
        assert response.status_code == status, (body, response.text)
        if field is not None:
            assert field in [d["field"] for d in response.json()["error"]["details"]]
    missing = await client.put(f"{NOTIFY}/maintenance/{uuid.uuid4()}", headers=admin_a, json=cron)
    assert missing.status_code == 404
    listed = await client.get(NOTIFY + "/maintenance", headers=admin_headers)
    assert [(w["name"], w["cron"], w["weekdays"]) for w in listed.json()["items"]] == [
        ("other", "0 3 * * *", []), ("patching", "0 2 * * 6", [])]  # fmt: skip
