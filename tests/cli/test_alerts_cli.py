"""`loom alert list` and `loom silence add|list|expire` against a live server."""

from __future__ import annotations

import json

import httpx
import pytest

from loom.cli.output import console
from tests.cli.conftest import LoggedIn, run
from tests.client.conftest import mint_token
from tests.incidents.alert_support import am_alert, am_payload

pytestmark = pytest.mark.sqlite_only


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)


@pytest.fixture
def alerting(logged_in: LoggedIn) -> LoggedIn:
    """An Alertmanager source that posted three alerts, one of them resolved."""
    admin = {"Authorization": f"Bearer {mint_token(logged_in.url)}"}
    with httpx.Client(base_url=f"{logged_in.url}/api/v1") as http:
        made = http.post("/alert-sources", json={"name": "am", "kind": "alertmanager"},
                         headers=admin)  # fmt: skip
        assert made.status_code == 201, made.text
        source = {"Authorization": f"Bearer {made.json()['token']}"}
        payload = am_payload(
            am_alert("DiskFull", severity="critical"), am_alert("SlowQueries", severity="info"),
            am_alert("Flapping", "resolved"),
        )  # fmt: skip
        posted = http.post("/alerts/alertmanager", json=payload, headers=source)
        assert posted.status_code == 200, posted.text
    return logged_in


def _names(*args: str) -> list[str]:
    listed = json.loads(run("alert", "list", *args, "-o", "json").stdout)
    return sorted(a["name"] for a in listed["items"])


def test_alert_list_filters(alerting: LoggedIn) -> None:
    assert _names() == ["DiskFull", "Flapping", "SlowQueries"]
    assert _names("--status", "resolved") == ["Flapping"]
    assert _names("--severity", "critical") == ["DiskFull"]
    assert _names("--not-silenced") == ["DiskFull", "Flapping", "SlowQueries"]
    assert _names("--silenced") == []
    table = run("alert", "list").stdout
    assert "DiskFull" in table and "critical" in table


def test_alert_list_bad_filter_is_one_line_error(alerting: LoggedIn) -> None:
    result = run("alert", "list", "--severity", "huge", code=1)
    assert "severity" in result.stderr


def test_silence_add_list_expire(logged_in: LoggedIn) -> None:
    made = json.loads(
        run("silence", "add", "-m", "alertname=~Disk.*", "-m", "env!=dev", "--duration", "1h",
            "--comment", "swap", "-o", "json").stdout
    )  # fmt: skip
    assert made["state"] == "active"
    assert [(m["name"], m["op"], m["value"]) for m in made["matchers"]] == [
        ("alertname", "=~", "Disk.*"), ("env", "!=", "dev"),
    ]  # fmt: skip
    listed = json.loads(run("silence", "list", "--state", "active", "-o", "json").stdout)
    assert [s["id"] for s in listed["items"]] == [made["id"]]
    assert "alertname=~Disk.*" in run("silence", "list").stdout
    expired = json.loads(run("silence", "expire", made["id"], "-o", "json").stdout)
    assert expired["state"] == "expired"
    assert (
        json.loads(run("silence", "list", "--state", "active", "-o", "json").stdout)["items"] == []
    )


def test_silence_add_refuses_bad_input(logged_in: LoggedIn) -> None:
    assert "--match" in run("silence", "add", "-m", "nonsense", code=1).stderr
    assert "--duration" in run("silence", "add", "-m", "a=b", "--duration", "soon", code=1).stderr
    bad_regex = run("silence", "add", "-m", "a=~(", code=1)
    assert "matchers[0].value" in bad_regex.stderr
