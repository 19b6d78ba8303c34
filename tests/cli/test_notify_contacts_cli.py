"""`loom notify contacts list|add|remove` against a live server: your own contact
methods in paging order, an admin's for someone else (`--user`), and bad input named by
field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loom.cli.output import console
from loom.client import LoomClient
from tests.cli.conftest import LoggedIn, run
from tests.client.conftest import mint_token
from tests.conftest import ADMIN_EMAIL

pytestmark = pytest.mark.sqlite_only
ANN = "ann@loom.test"
SLACK_BOT = {"mode": "bot", "channel": "#incidents", "api_base": "http://127.0.0.1:9/api"}
MAIL = {"host": "127.0.0.1", "port": 2525, "security": "none", "sender": "loom@loom.test",
        "recipients": ["ops@loom.test"]}  # fmt: skip


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)


@pytest.fixture
def channels(logged_in: LoggedIn) -> None:
    """A Slack channel in bot mode and an e-mail channel, and a second person, Ann."""
    run("notify", "add", "slack-bot", "-k", "slack", "--config", json.dumps(SLACK_BOT),
        "--secret", "bot_token=xoxb-1-2-x")  # fmt: skip
    run("notify", "add", "mail", "-k", "email", "--config", json.dumps(MAIL))
    with LoomClient(logged_in.url, mint_token(logged_in.url)) as client:
        client.identity.create_user(ANN, password="ann-password-1")


def _json(*args: str) -> Any:
    return json.loads(run(*args, "-o", "json").stdout)


def test_your_contact_methods_added_listed_in_paging_order_and_removed(channels: None) -> None:
    mail = _json("notify", "contacts", "add", "--kind", "email", "--address", "me@home.test",
                 "--channel", "mail", "--position", "1")  # fmt: skip
    dm = _json("notify", "contacts", "add", "-k", "slack", "-a", "U0123ABC", "-c", "slack-bot")
    assert (dm["user"], dm["kind"], dm["address"], dm["channel"], dm["position"]) == (
        ADMIN_EMAIL, "slack", "U0123ABC", "slack-bot", 0,
    )  # fmt: skip
    listed = _json("notify", "contacts", "list")["items"]
    assert [m["id"] for m in listed] == [dm["id"], mail["id"]]
    table = run("notify", "contacts", "list").stdout
    assert "U0123ABC" in table and "me@home.test" in table and dm["id"] in table

    text = run("notify", "contacts", "add", "-k", "slack", "-a", "U0123ABC",
               "-c", "slack-bot", code=1).stderr  # fmt: skip
    assert "exists" in text
    assert "removed" in run("notify", "contacts", "remove", dm["id"]).stdout
    assert [m["id"] for m in _json("notify", "contacts", "list")["items"]] == [mail["id"]]
    assert "not found" in run("notify", "contacts", "remove", dm["id"], code=1).stderr


def test_an_admin_manages_someone_elses_with_user(channels: None) -> None:
    made = _json("notify", "contacts", "add", "-k", "email", "-a", "ann@home.test",
                 "-c", "mail", "--user", ANN)  # fmt: skip
    assert made["user"] == ANN
    theirs = _json("notify", "contacts", "list", "--user", ANN)["items"]
    assert [m["id"] for m in theirs] == [made["id"]]
    assert _json("notify", "contacts", "list")["items"] == []  # not the admin's own
    run("notify", "contacts", "remove", made["id"])
    assert _json("notify", "contacts", "list", "--user", ANN)["items"] == []


def test_bad_contact_methods_are_refused_naming_the_field(channels: None) -> None:
    cases = [
        (["-k", "slack", "-a", "#general", "-c", "slack-bot"], "address"),
        (["-k", "slack", "-a", "U0123ABC", "-c", "mail"], "channel"),
        (["-k", "email", "-a", "a@b.test", "-c", "mail", "--user", "nobody@loom.test"], "user"),
        (["-k", "sms", "-a", "+33600000000", "-c", "mail"], "kind"),
    ]
    for args, field in cases:
        result = run("notify", "contacts", "add", *args, code=1)
        assert f"{field}: " in result.stderr, (args, result.stderr)
