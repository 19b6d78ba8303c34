"""`loom change add|list|frequency` against a live server: a deployment reaches the
version matrix, filters, and bad input ends in one line on stderr (exit 1)."""

from __future__ import annotations

import json

import pytest

from loom.cli.output import console
from loom.client import LoomClient
from tests.cli.conftest import LoggedIn, run
from tests.client.conftest import mint_token

pytestmark = pytest.mark.sqlite_only


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)


@pytest.fixture
def registry(logged_in: LoggedIn) -> LoggedIn:
    with LoomClient(logged_in.url, mint_token(logged_in.url)) as client:
        client.services.create("api", "API", "platform")
        client.services.create("web", "Web", "platform")
    return logged_in


def test_add_a_deployment_and_list_changes(registry: LoggedIn) -> None:
    made = json.loads(
        run("change", "add", "deployment", "-s", "api", "-e", "production", "--version", "1.2.0",
            "-m", "release 1.2", "--at", "2026-01-05T10:00:00Z", "-o", "json").stdout
    )  # fmt: skip
    assert (made["type"], made["service"], made["version"]) == ("deployment", "api", "1.2.0")
    assert made["author"] == "admin@loom.test" and made["deployment_id"]
    shown = run("change", "add", "config", "-s", "web", "-m", "raise pool size",
                "--at", "2026-01-06T10:00:00Z").stdout  # fmt: skip
    assert "raise pool size" in shown and "config" in shown
    with LoomClient(registry.url, mint_token(registry.url)) as client:
        [row] = [r for r in client.services.versions().items if r.service == "api"]
    assert row.versions["production"] is not None
    assert row.versions["production"].version == "1.2.0"

    listed = json.loads(run("change", "list", "-o", "json").stdout)
    assert [c["service"] for c in listed["items"]] == ["web", "api"]
    only = json.loads(run("change", "list", "--type", "deployment", "-o", "json").stdout)
    assert [c["id"] for c in only["items"]] == [made["id"]]
    since = json.loads(
        run("change", "list", "--since", "2026-01-06T00:00:00Z", "-o", "json").stdout
    )
    assert [c["service"] for c in since["items"]] == ["web"]
    table = run("change", "list", "-s", "api").stdout
    assert "release 1.2" in table and "raise pool size" not in table
    run("change", "add", "scaling", "-s", "api")  # now: within the last 7 days
    counts = json.loads(run("change", "frequency", "-o", "json").stdout)
    assert counts["items"] == [{"service": "api", "last_7_days": 1, "last_30_days": 1}]
    assert "api" in run("change", "frequency").stdout


def test_bad_input_is_one_line_on_stderr(registry: LoggedIn) -> None:
    unknown = run("change", "add", "deployment", "-s", "nope", code=1)
    assert "service" in unknown.stderr and "nope" in unknown.stderr
    naive = run("change", "add", "config", "--at", "2026-01-05T10:00:00", code=1)
    assert "time zone" in naive.stderr
    run("change", "add", "rollout", code=2)
