"""`loom notify rules list|add|show|enable|disable|remove` and `loom notify policies
list|add --file|show|remove` against a live server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loom.cli.output import console
from loom.client import LoomClient
from loom.settings import Settings
from tests.cli.conftest import LoggedIn, run
from tests.client.conftest import mint_token
from tests.conftest import make_settings

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, allowed_hosts=["127.0.0.1"])


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)


@pytest.fixture
def channels(logged_in: LoggedIn) -> list[str]:
    names = ["pager", "pager-backup", "slack-ops"]
    with LoomClient(logged_in.url, mint_token(logged_in.url)) as client:
        for name in names:
            client.notify.create_channel(name, "webhook", config={"url": "http://127.0.0.1:9/"})
    return names


def _json(*args: str) -> Any:
    return json.loads(run(*args, "-o", "json").stdout)


def test_add_list_switch_and_remove_rules(channels: list[str], tmp_path: Path) -> None:
    made = _json("notify", "rules", "add", "critical-pages", "-e", "opened", "-e",
                 "incident.resolved", "--severity", "critical", "--env", "prod", "-c", "pager",
                 "--position", "20", "--max-per-hour", "3")  # fmt: skip
    assert made["events"] == ["incident.opened", "incident.resolved"]
    assert (made["severities"], made["environments"]) == (["critical"], ["prod"])
    assert (made["channels"], made["position"], made["max_per_hour"]) == (["pager"], 20, 3)
    rule_file = tmp_path / "rule.yaml"
    rule_file.write_text("name: from-file\nevents: [incident.opened]\nchannels: [slack-ops]\n"
                         "services: [orders]\nposition: 50\n")  # fmt: skip
    from_file = _json("notify", "rules", "add", "--file", str(rule_file), "--position", "5")
    assert (from_file["name"], from_file["services"], from_file["position"]) == (
        "from-file", ["orders"], 5)  # fmt: skip

    listed = _json("notify", "rules", "list")["items"]
    assert [r["name"] for r in listed] == ["from-file", "critical-pages"]  # by position
    table = run("notify", "rules", "list").stdout
    assert "severities=critical; environments=prod" in table and "services=orders" in table

    run("notify", "rules", "disable", "critical-pages")
    shown = _json("notify", "rules", "show", "critical-pages")
    assert shown["enabled"] is False
    # Switching it off changed nothing else.
    kept = ("events", "severities", "environments", "channels", "position", "max_per_hour")
    assert {k: shown[k] for k in kept} == {k: made[k] for k in kept}
    assert "enabled" in run("notify", "rules", "enable", made["id"]).stdout
    assert _json("notify", "rules", "show", "critical-pages")["enabled"] is True

    run("notify", "rules", "remove", "critical-pages")
    assert [r["name"] for r in _json("notify", "rules", "list")["items"]] == ["from-file"]


def test_bad_rules_end_in_one_line_naming_the_field(channels: list[str]) -> None:
    result = run("notify", "rules", "add", "r", "-e", "opened", "-c", "nope", code=1)
    assert "channels[0]" in result.stderr
    result = run("notify", "rules", "add", "r", "-c", "pager", code=1)
    assert "events" in result.stderr
    assert "no rule named 'nope'" in run("notify", "rules", "show", "nope", code=1).stderr
    assert "no rule named 'nope'" in run("notify", "rules", "disable", "nope", code=1).stderr


def test_policies_from_a_file_replaced_used_by_a_rule_and_removed(
    channels: list[str], tmp_path: Path
) -> None:
    policy_file = tmp_path / "on-call.yaml"
    policy_file.write_text("name: on-call\nrepeat: 1\nlevels:\n"
                           "  - {delay_minutes: 0, channels: [pager]}\n"
                           "  - {delay_minutes: 15, channels: [pager-backup, slack-ops]}\n")  # fmt: skip
    made = _json("notify", "policies", "add", "--file", str(policy_file))
    assert made["repeat"] == 1
    assert [(lv["delay_minutes"], lv["channels"]) for lv in made["levels"]] == [
        (0, ["pager"]), (15, ["pager-backup", "slack-ops"])]  # fmt: skip
    shown = run("notify", "policies", "show", "on-call").stdout
    assert "+15m" in shown and "pager-backup, slack-ops" in shown
    assert "pager-backup" in run("notify", "policies", "list").stdout

    # The same name again is refused, unless --replace says so.
    run("notify", "policies", "add", "--file", str(policy_file), code=1)
    policy_file.write_text("name: on-call\nlevels: [{delay_minutes: 5, channels: [slack-ops]}]\n")
    replaced = _json("notify", "policies", "add", "--file", str(policy_file), "--replace")
    assert replaced["id"] == made["id"] and replaced["repeat"] == 0
    assert [lv["channels"] for lv in replaced["levels"]] == [["slack-ops"]]

    rule = _json("notify", "rules", "add", "escalate", "-e", "opened", "--policy", "on-call")
    assert rule["policy"] == "on-call"
    run("notify", "rules", "remove", "escalate")
    run("notify", "policies", "remove", "on-call")
    assert _json("notify", "policies", "list")["items"] == []


def test_a_bad_policy_file_names_the_field(channels: list[str], tmp_path: Path) -> None:
    policy_file = tmp_path / "p.json"
    policy_file.write_text(json.dumps({"name": "p", "levels": [{"delay_minutes": -1,
                                                                "channels": ["pager"]}]}))  # fmt: skip
    assert "levels[0].delay_minutes" in run(
        "notify", "policies", "add", "-f", str(policy_file), code=1).stderr  # fmt: skip
    policy_file.write_text("[1, 2]")
    assert "must hold a policy" in run(
        "notify", "policies", "add", "-f", str(policy_file), code=1).stderr  # fmt: skip
