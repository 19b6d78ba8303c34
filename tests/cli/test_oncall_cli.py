"""`loom oncall schedules list|show|add --file|remove`, `loom oncall override` and
`loom oncall overrides list|add|remove` against a live server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loom.cli.output import console
from loom.client import LoomClient
from tests.cli.conftest import LoggedIn, run
from tests.client.conftest import mint_token
from tests.conftest import ADMIN_EMAIL

pytestmark = pytest.mark.sqlite_only
ANN = "ann@loom.test"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)


def _json(*args: str) -> Any:
    return json.loads(run(*args, "-o", "json").stdout)


def _rota(path: Path, **changes: Any) -> Path:
    """A daily rotation of the admin that started yesterday (someone is on call now)."""
    start = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    doc = {"name": "db-oncall", "time_zone": "UTC",
           "layers": [{"name": "primary", "rotation": "daily", "handoff": "00:00",
                       "start": start, "users": [ADMIN_EMAIL]}], **changes}  # fmt: skip
    path.write_text(json.dumps(doc))
    return path


def test_schedules_from_a_file_listed_replaced_and_removed(
    logged_in: LoggedIn, tmp_path: Path
) -> None:
    made = _json("oncall", "schedules", "add", "--file", str(_rota(tmp_path / "rota.json")))
    assert (made["name"], made["time_zone"]) == ("db-oncall", "UTC")
    assert made["layers"][0]["users"] == [ADMIN_EMAIL]
    listed = run("oncall", "schedules", "list").stdout
    assert "db-oncall" in listed and "primary: daily at 00:00" in listed
    shown = run("oncall", "schedules", "show", "db-oncall").stdout
    assert "primary" in shown and ADMIN_EMAIL in shown

    paris = _rota(tmp_path / "paris.json", time_zone="Europe/Paris")
    run("oncall", "schedules", "add", "-f", str(paris), code=1)  # the name is taken
    replaced = _json("oncall", "schedules", "add", "-f", str(paris), "--replace")
    assert (replaced["id"], replaced["time_zone"]) == (made["id"], "Europe/Paris")

    run("oncall", "schedules", "remove", "db-oncall")
    assert _json("oncall", "schedules", "list")["items"] == []
    assert "not found" in run("oncall", "schedules", "show", "db-oncall", code=1).stderr


def test_a_bad_schedule_file_names_the_field(logged_in: LoggedIn, tmp_path: Path) -> None:
    bad = _rota(tmp_path / "bad.json", time_zone="Mars/Olympus")
    assert "time_zone" in run("oncall", "schedules", "add", "-f", str(bad), code=1).stderr
    nobody = _rota(tmp_path / "nobody.json")
    doc = json.loads(nobody.read_text())
    doc["layers"][0]["users"] = ["nobody@loom.test"]
    nobody.write_text(json.dumps(doc))
    assert "layers[0].users" in run("oncall", "schedules", "add", "-f", str(nobody),
                                    code=1).stderr  # fmt: skip


def test_an_override_puts_someone_on_call_now(logged_in: LoggedIn, tmp_path: Path) -> None:
    with LoomClient(logged_in.url, mint_token(logged_in.url)) as client:
        client.identity.create_user(ANN, password="ann-password-1")
    run("oncall", "schedules", "add", "--file", str(_rota(tmp_path / "rota.json")))
    (before,) = _json("oncall", "now", "db-oncall")["items"]
    assert (before["user"], before["source"]) == (ADMIN_EMAIL, "primary")

    made = _json("oncall", "override", "db-oncall", "--user", ANN, "--for", "2h")
    starts = datetime.fromisoformat(made["starts_at"])
    ends = datetime.fromisoformat(made["ends_at"])
    assert ends - starts == timedelta(hours=2)
    assert abs(starts - datetime.now(UTC)) < timedelta(minutes=1)
    (now,) = _json("oncall", "now", "db-oncall")["items"]
    assert (now["user"], now["source"]) == (ANN, "override")

    later = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    to = (later + timedelta(hours=8)).isoformat()
    text = run("oncall", "override", "db-oncall", "-u", ANN, "--from",
               later.isoformat(), "--to", to).stdout  # fmt: skip
    assert "on call on db-oncall" in text
    shifts = _json("oncall", "schedule", "db-oncall", "--days", "3")["items"]
    covered = [
        (s["user"], s["starts_at"], s["ends_at"]) for s in shifts if s["source"] == "override"
    ]
    assert covered[-1] == (ANN, later.isoformat().replace("+00:00", "Z"), to.replace("+00:00", "Z"))
    assert len(covered) == 2


def test_bad_overrides_are_refused_before_or_by_the_server(
    logged_in: LoggedIn, tmp_path: Path
) -> None:
    run("oncall", "schedules", "add", "--file", str(_rota(tmp_path / "rota.json")))
    both = run("oncall", "override", "db-oncall", "-u", ADMIN_EMAIL, "--to", "+1h",
               "--for", "1h", code=1)  # fmt: skip
    assert "--to or --for" in both.stderr
    bad = run("oncall", "override", "db-oncall", "-u", ADMIN_EMAIL, "--from", "tomorrow",
              "--for", "1h", code=1)  # fmt: skip
    assert "--from 'tomorrow'" in bad.stderr
    assert "--for '90'" in run("oncall", "override", "db-oncall", "-u", ADMIN_EMAIL, "--for",
                               "90", code=1).stderr  # fmt: skip
    stranger = run("oncall", "override", "db-oncall", "-u", "nobody@loom.test", "--for", "1h",
                   code=1)  # fmt: skip
    assert "user" in stranger.stderr
    backwards = run("oncall", "override", "db-oncall", "-u", ADMIN_EMAIL, "--from", "+2h",
                    "--to", "+1h", code=1)  # fmt: skip
    assert "ends_at" in backwards.stderr


def test_overrides_listed_by_start_and_one_removed(logged_in: LoggedIn, tmp_path: Path) -> None:
    with LoomClient(logged_in.url, mint_token(logged_in.url)) as client:
        client.identity.create_user(ANN, password="ann-password-1")
    run("oncall", "schedules", "add", "--file", str(_rota(tmp_path / "rota.json")))
    later = _json("oncall", "overrides", "add", "db-oncall", "-u", ANN, "--from", "+1d",
                  "--for", "8h")  # fmt: skip
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    past = _json("oncall", "override", "db-oncall", "-u", ANN, "--from", yesterday, "--for", "1h")
    now = _json("oncall", "override", "db-oncall", "-u", ANN, "--for", "2h")
    assert _json("oncall", "now", "db-oncall")["items"][0]["user"] == ANN

    listed = _json("oncall", "overrides", "list", "db-oncall")["items"]
    assert [o["id"] for o in listed] == [now["id"], later["id"]]
    every = _json("oncall", "overrides", "list", "db-oncall", "--include-past")["items"]
    assert [o["id"] for o in every] == [past["id"], now["id"], later["id"]]
    table = run("oncall", "overrides", "list", "db-oncall").stdout
    assert now["id"] in table and ANN in table

    text = run("oncall", "overrides", "remove", "db-oncall", now["id"]).stdout
    assert f"override {now['id']} removed" in text
    (back,) = _json("oncall", "now", "db-oncall")["items"]
    assert (back["user"], back["source"]) == (ADMIN_EMAIL, "primary")
    remaining = _json("oncall", "overrides", "list", "db-oncall")["items"]
    assert [o["id"] for o in remaining] == [later["id"]]
    gone = run("oncall", "overrides", "remove", "db-oncall", now["id"], code=1)
    assert "not found" in gone.stderr
