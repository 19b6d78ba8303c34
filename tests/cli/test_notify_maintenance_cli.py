"""`loom notify maintenance list|add|remove` and `loom notify snooze` against a live
server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loom.cli.output import console
from loom.client import LoomClient
from tests.cli.conftest import LoggedIn, run
from tests.cli.test_incidents_cli import seed
from tests.client.conftest import mint_token
from tests.conftest import LiveServer

pytestmark = pytest.mark.sqlite_only


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)


def _json(*args: str) -> Any:
    return json.loads(run(*args, "-o", "json").stdout)


def _near(moment: str, expected: datetime) -> bool:
    return abs(datetime.fromisoformat(moment) - expected) < timedelta(minutes=1)


def test_weekly_and_once_windows_listed_and_removed(logged_in: LoggedIn) -> None:
    weekly = _json("notify", "maintenance", "add", "patching", "-w", "sat", "-w", "sun",
                   "--at", "23:00", "--for", "3h", "--tz", "Europe/Paris", "-s", "orders")  # fmt: skip
    assert (weekly["weekdays"], weekly["start_time"], weekly["duration_minutes"]) == (
        ["sat", "sun"], "23:00", 180)  # fmt: skip
    assert (weekly["time_zone"], weekly["services"]) == ("Europe/Paris", ["orders"])
    now = datetime.now(UTC)
    once = _json("notify", "maintenance", "add", "upgrade", "--for", "2h")
    assert once["open_now"] is True and once["services"] == []
    assert _near(once["starts_at"], now) and _near(once["ends_at"], now + timedelta(hours=2))
    later = _json("notify", "maintenance", "add", "later", "--from", "+1d", "--to", "+25h")
    assert later["open_now"] is False
    assert _near(later["ends_at"], now + timedelta(hours=25))

    listed = run("notify", "maintenance", "list").stdout
    assert "sat,sun 23:00 for 180m (Europe/Paris)" in listed and "all" in listed
    names = [w["name"] for w in _json("notify", "maintenance", "list")["items"]]
    assert names == ["later", "patching", "upgrade"]
    run("notify", "maintenance", "remove", "upgrade")
    run("notify", "maintenance", "remove", later["id"])
    assert [w["name"] for w in _json("notify", "maintenance", "list")["items"]] == ["patching"]
    gone = run("notify", "maintenance", "remove", "upgrade", code=1)
    assert "no maintenance window named 'upgrade'" in gone.stderr


def test_bad_windows_end_in_one_line_naming_the_field(logged_in: LoggedIn) -> None:
    no_length = run("notify", "maintenance", "add", "w", "-w", "sat", "--at", "23:00", code=1)
    assert "duration_minutes" in no_length.stderr
    zone = run("notify", "maintenance", "add", "w", "-w", "sat", "--at", "23:00", "--for", "1h",
               "--tz", "Mars/Olympus", code=1)  # fmt: skip
    assert "time_zone" in zone.stderr
    both = run("notify", "maintenance", "add", "w", "-w", "sat", "--at", "23:00", "--for", "1h",
               "--from", "+1h", code=1)  # fmt: skip
    assert "starts_at" in both.stderr and "once or weekly" in both.stderr
    assert "--to or --for" in run("notify", "maintenance", "add", "w", "--to", "+1h", "--for",
                                  "1h", code=1).stderr  # fmt: skip
    assert "ends_at" in run("notify", "maintenance", "add", "w", code=1).stderr
    assert _json("notify", "maintenance", "list")["items"] == []


def test_snooze_a_service_or_an_incident(logged_in: LoggedIn, live_server: LiveServer) -> None:
    with LoomClient(logged_in.url, mint_token(logged_in.url)) as client:
        client.services.create("orders", "Orders", "platform")
    (number,) = seed(live_server, {"alerts": 1, "title": "Checkout errors"})

    now = datetime.now(UTC)
    service = _json("notify", "snooze", "--service", "orders", "--for", "30m")
    assert (service["services"], service["incident_id"], service["open_now"]) == (
        ["orders"], None, True)  # fmt: skip
    assert _near(service["ends_at"], now + timedelta(minutes=30))
    text = run("notify", "snooze", "--incident", f"INC-{number}", "--for", "2h").stdout
    assert f"INC-{number} snoozed until" in text and "loom notify maintenance remove" in text
    (incident,) = [w for w in _json("notify", "maintenance", "list")["items"]
                   if w["incident_id"]]  # fmt: skip
    assert _near(incident["ends_at"], now + timedelta(hours=2)) and incident["services"] == []

    assert "--incident or --service" in run("notify", "snooze", "--for", "1h", code=1).stderr
    assert "--incident or --service" in run("notify", "snooze", "-i", "INC-1", "-s", "orders",
                                            code=1).stderr  # fmt: skip
    assert "service" in run("notify", "snooze", "-s", "nope", code=1).stderr
    assert "--for '1w'" in run("notify", "snooze", "-s", "orders", "--for", "1w", code=1).stderr


def test_a_cron_window_is_added_and_listed(logged_in: LoggedIn) -> None:
    made = _json("notify", "maintenance", "add", "saturdays", "--cron", "0 2 * * 6", "--for",
                 "2h", "--tz", "Europe/Paris")  # fmt: skip
    assert (made["cron"], made["duration_minutes"], made["time_zone"]) == (
        "0 2 * * 6", 120, "Europe/Paris")  # fmt: skip
    assert made["weekdays"] == [] and made["starts_at"] is None
    hour = datetime.now(UTC).hour
    now = _json("notify", "maintenance", "add", "now", "--cron", f"0 {hour} * * *", "--for", "2h")
    assert now["open_now"] is True and now["time_zone"] == "UTC"
    listed = run("notify", "maintenance", "list").stdout
    assert "cron 0 2 * * 6 for 120m (Europe/Paris)" in listed
    assert f"cron 0 {hour} * * * for 120m (UTC)" in listed
    shown = run("notify", "maintenance", "add", "x", "--cron", "0 3 * * *", "--for", "1h").stdout
    assert "0 3 * * *" in shown

    assert "cron" in run("notify", "maintenance", "add", "w", "--cron", "0 25 * * *", "--for",
                         "1h", code=1).stderr  # fmt: skip
    assert "duration_minutes" in run("notify", "maintenance", "add", "w", "--cron", "0 2 * * 6",
                                     code=1).stderr  # fmt: skip
    both = run("notify", "maintenance", "add", "w", "--cron", "0 2 * * 6", "--for", "1h", "-w",
               "sat", "--at", "02:00", code=1)  # fmt: skip
    assert "cron" in both.stderr and "one kind only" in both.stderr
    assert [w["name"] for w in _json("notify", "maintenance", "list")["items"]] == [
        "now", "saturdays", "x"]  # fmt: skip
