"""Cron maintenance windows: open from each time the expression fires, in the window's
time zone and across its DST changes, for `duration_minutes` of elapsed time; bad
expressions and windows of two kinds are refused naming the field; while one is open,
notifications are logged as muted, not sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from loom.db.types import utcnow
from loom.demo.fakes.server import FakeServer, Reply
from loom.notify.consumer import NotifyConsumers
from loom.notify.maintenance import cron_problem, is_open
from loom.notify.models import MaintenanceWindow
from tests.incidents.alert_support import as_source, make_source
from tests.notify.conftest import Notifier

NOTIFY = "/api/v1/notify"


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def _cron(expression: str, minutes: int, zone: str = "Europe/Paris") -> MaintenanceWindow:
    return MaintenanceWindow(name="w", cron=expression, duration_minutes=minutes, time_zone=zone)


def test_a_cron_window_opens_when_it_fires_in_its_time_zone() -> None:
    saturday_two = _cron("0 2 * * 6", 120)
    # 2026-11-28 is a Saturday; Paris is UTC+1 in winter: it fires at 01:00 UTC.
    assert not is_open(saturday_two, _at(2026, 11, 28, 0, 59, 59))
    assert not is_open(saturday_two, datetime(2026, 11, 28, 0, 59, 59, 900000, tzinfo=UTC))
    assert is_open(saturday_two, _at(2026, 11, 28, 1, 0))
    assert is_open(saturday_two, _at(2026, 11, 28, 2, 59, 59))
    assert not is_open(saturday_two, _at(2026, 11, 28, 3, 0))
    assert not is_open(saturday_two, _at(2026, 11, 27, 1, 30))  # a Friday
    # 2026-06-27 is a Saturday too; in summer (UTC+2) it fires at 00:00 UTC.
    assert not is_open(saturday_two, _at(2026, 6, 26, 23, 59))
    assert is_open(saturday_two, _at(2026, 6, 27, 0, 0))
    assert not is_open(saturday_two, _at(2026, 6, 27, 2, 0))
    # The same expression in UTC fires an hour later than in Paris in winter.
    assert not is_open(_cron("0 2 * * 6", 120, "UTC"), _at(2026, 11, 28, 1, 30))


def test_a_cron_window_lasts_its_minutes_across_a_dst_change() -> None:
    nightly = _cron("30 1 * * *", 60)
    # 2026-03-29: clocks go from 02:00 to 03:00 in Paris. It fires at 01:30 CET (00:30
    # UTC) and closes an hour later, when the wall clock already says 03:30.
    assert not is_open(nightly, _at(2026, 3, 29, 0, 29))
    assert is_open(nightly, _at(2026, 3, 29, 1, 29))
    assert not is_open(nightly, _at(2026, 3, 29, 1, 30))
    assert is_open(nightly, _at(2026, 3, 30, 0, 0))  # 01:30 CEST is 23:30 UTC the day before
    late = _cron("0 1 * * *", 120)
    # 2026-10-25: clocks go back from 03:00 to 02:00. It fires at 01:00 CEST (23:00 UTC
    # the day before) and closes two hours later: 01:00 UTC, though Paris reads 02:00.
    assert is_open(late, _at(2026, 10, 24, 23, 0))
    assert is_open(late, _at(2026, 10, 25, 0, 59))
    assert not is_open(late, _at(2026, 10, 25, 1, 0))
    assert is_open(late, _at(2026, 10, 26, 1, 59))  # 01:00 CET is 00:00 UTC from now on
    assert not is_open(late, _at(2026, 10, 26, 2, 0))


def test_cron_problems_are_named() -> None:
    now = _at(2026, 11, 27, 12, 0)
    assert cron_problem("0 2 * * 6", now) is None
    assert cron_problem("@daily", now) is None
    assert cron_problem("*/15 9-17 * * mon-fri", now) is None
    assert "not a cron expression" in str(cron_problem("0 25 * * *", now))
    assert "five fields" in str(cron_problem("0 2 * * 6 30", now))
    assert "never fires" in str(cron_problem("0 0 30 2 *", now))
    assert "random" in str(cron_problem("R 2 * * *", now))
    assert "random" in str(cron_problem("H 2 * * *", now))


async def test_bad_cron_windows_are_refused_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    now = utcnow().isoformat()
    cron = {"name": "w", "cron": "0 2 * * 6", "duration_minutes": 60}
    cases = [
        ({**cron, "cron": "0 25 * * *"}, "cron"),
        ({**cron, "cron": "0 2 * * 6 30"}, "cron"),
        ({**cron, "cron": "0 0 30 2 *"}, "cron"),
        ({**cron, "cron": ""}, "cron"),
        ({**cron, "cron": "0 2 * * 6" + " " * 100}, "cron"),
        ({"name": "w", "cron": "0 2 * * 6"}, "duration_minutes"),
        ({**cron, "time_zone": "Nowhere/Land"}, "time_zone"),
        # One kind per window.
        ({**cron, "weekdays": ["sat"], "start_time": "02:00"}, "cron"),
        ({**cron, "starts_at": now, "ends_at": now}, "cron"),
        ({"name": "w", "weekdays": ["sat"], "start_time": "02:00", "duration_minutes": 60,
          "starts_at": now, "ends_at": now}, "starts_at"),
    ]  # fmt: skip
    for body, field in cases:
        response = await client.post(NOTIFY + "/maintenance", json=body, headers=admin_headers)
        assert response.status_code == 422, (body, response.text)
        assert field in [d["field"] for d in response.json()["error"]["details"]], body
    listed = await client.get(NOTIFY + "/maintenance", headers=admin_headers)
    assert listed.json()["items"] == []


async def test_an_open_cron_window_mutes_and_a_closed_one_does_not_show_open(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/hook", Reply(200))
    hour = utcnow().hour
    for path, body in (
        ("/channels", {"name": "hook", "kind": "webhook", "config": {"url": fake.url + "/hook"}}),
        ("/rules", {"name": "all", "events": ["incident.opened"], "channels": ["hook"]}),
        # Fired at the top of this hour, open two hours: open now and when the alert comes.
        ("/maintenance", {"name": "hourly", "cron": f"0  {hour} * * *",
                          "duration_minutes": 120}),
        ("/maintenance", {"name": "later", "cron": f"0 {(hour + 12) % 24} * * *",
                          "duration_minutes": 60, "time_zone": "UTC"}),
    ):  # fmt: skip
        made = await client.post(NOTIFY + path, json=body, headers=admin_headers)
        assert made.status_code == 201, made.text
    listed = await client.get(NOTIFY + "/maintenance", headers=admin_headers)
    assert [(w["name"], w["cron"], w["duration_minutes"], w["open_now"])
            for w in listed.json()["items"]] == [
        ("hourly", f"0 {hour} * * *", 120, True),
        ("later", f"0 {(hour + 12) % 24} * * *", 60, False),
    ]  # fmt: skip
    source = await make_source(client, admin_headers, "generic")
    fired = await client.post("/api/v1/alerts", json={"title": "DiskFull", "severity": "critical"},
                              headers=as_source(source))  # fmt: skip
    assert fired.status_code == 200, fired.text
    await NotifyConsumers(app.state.runtime).dispatch_once()
    await notifier.run()
    assert fake.calls == []
    log = await client.get(NOTIFY + "/notifications", headers=admin_headers)
    (row,) = log.json()["items"]
    assert row["status"] == "muted" and "maintenance window 'hourly'" in row["error"]


async def test_a_closed_cron_window_lets_notifications_through(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str],
    notifier: Notifier, fake: FakeServer,
) -> None:  # fmt: skip
    fake.route("POST", "/hook", Reply(200))
    later = (utcnow() + timedelta(hours=6)).hour
    for path, body in (
        ("/channels", {"name": "hook", "kind": "webhook", "config": {"url": fake.url + "/hook"}}),
        ("/rules", {"name": "all", "events": ["incident.opened"], "channels": ["hook"]}),
        ("/maintenance", {"name": "later", "cron": f"0 {later} * * *", "duration_minutes": 60}),
    ):  # fmt: skip
        made = await client.post(NOTIFY + path, json=body, headers=admin_headers)
        assert made.status_code == 201, made.text
    source = await make_source(client, admin_headers, "generic")
    await client.post("/api/v1/alerts", json={"title": "DiskFull", "severity": "critical"},
                      headers=as_source(source))  # fmt: skip
    await NotifyConsumers(app.state.runtime).dispatch_once()
    await notifier.run()
    assert [c.json()["event"] for c in fake.calls] == ["incident.opened"]
