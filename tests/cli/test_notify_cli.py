"""`loom notify add|channels|test|log|remove` against a live server whose workers deliver
to a local webhook receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from loom.cli.output import console
from loom.client import LoomClient
from loom.demo.fakes.server import FakeServer, Reply
from loom.settings import Settings
from tests.cli.conftest import LoggedIn, run
from tests.client.conftest import mint_token
from tests.conftest import make_settings

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, allowed_hosts=["127.0.0.1"])


@pytest.fixture
def live_background() -> bool:
    return True  # the workers (and the notification consumers) run


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)


@pytest.fixture
def receiver() -> Iterator[FakeServer]:
    with FakeServer() as server:
        server.route("POST", "/hook", Reply(200, body="thanks"))
        yield server


def test_add_a_channel_send_a_test_and_read_the_log(
    logged_in: LoggedIn, receiver: FakeServer
) -> None:
    config = json.dumps({"url": receiver.url + "/hook"})
    made = json.loads(run("notify", "add", "ops-hook", "-k", "webhook", "--config", config,
                          "--secret", "hmac_secret=topsecret", "-o", "json").stdout)  # fmt: skip
    assert made["kind"] == "webhook" and list(made["secrets"]) == ["hmac_secret"]
    assert "topsecret" not in json.dumps(made)
    listed = run("notify", "channels").stdout
    assert "ops-hook" in listed and "topsecret" not in listed
    queued = json.loads(run("notify", "test", "ops-hook", "-o", "json").stdout)
    deadline = time.monotonic() + 15
    while True:
        log = json.loads(run("notify", "log", "--delivery", queued["delivery_id"],
                             "-o", "json").stdout)  # fmt: skip
        if log["items"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    (row,) = log["items"]
    assert (row["status"], row["channel"], row["event"]) == ("sent", "ops-hook", "test")
    assert [c.path for c in receiver.calls] == ["/hook"]
    assert "x-loom-signature-256" in receiver.calls[0].headers
    run("notify", "remove", "ops-hook")
    assert "ops-hook" not in run("notify", "channels").stdout


def test_bad_settings_end_in_one_line_naming_the_field(logged_in: LoggedIn) -> None:
    result = run("notify", "add", "bad", "-k", "webhook", "--config", "{}", code=1)
    assert "config.url" in result.stderr
    result = run("notify", "add", "bad", "-k", "webhook", "--config", "[1]", code=1)
    assert "JSON object" in result.stderr


def test_who_is_on_call_and_the_shifts_ahead(logged_in: LoggedIn) -> None:
    today = datetime.now(UTC).date()
    with LoomClient(logged_in.url, mint_token(logged_in.url)) as client:
        client.core.post("/notify/schedules", dict, ok=(201,), json={
            "name": "db-oncall", "time_zone": "UTC",
            "layers": [{"rotation": "daily", "handoff": "00:00",
                        "start": (today - timedelta(days=1)).isoformat(),
                        "users": ["admin@loom.test"]}],
        })  # fmt: skip
    now = json.loads(run("oncall", "now", "-o", "json").stdout)["items"]
    assert [(n["schedule"], n["user"]) for n in now] == [("db-oncall", "admin@loom.test")]
    ahead = json.loads(run("oncall", "schedule", "db-oncall", "--days", "3", "-o", "json").stdout)
    assert {s["user"] for s in ahead["items"]} == {"admin@loom.test"}
    assert "admin@loom.test" in run("oncall", "now", "db-oncall").stdout
