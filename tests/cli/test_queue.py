"""`loom queue ...` as an org admin against a live server (no worker: a submitted
request's first task waits on the queue)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loom.cli.output import console
from loom.settings import Settings
from tests.catalog.conftest import CODEOWNERS, POSTGRES, write_catalog
from tests.cli.conftest import LoggedIn, run
from tests.conftest import make_settings

pytestmark = pytest.mark.sqlite_only


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)  # no cell is folded


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The live server serves a one-item catalog (overrides tests.conftest's `settings`)."""
    files: dict[str, str | None] = {
        "catalog/databases/postgres.yaml": POSTGRES,
        "CODEOWNERS": CODEOWNERS,
    }
    catalog_dir = write_catalog(tmp_path / "catalog-repo", files)
    catalog = {"source": str(catalog_dir), "cache_dir": str(tmp_path / "cache")}
    return make_settings(database_url, catalog=catalog)


def test_stats_and_messages_of_a_waiting_task(logged_in: LoggedIn) -> None:
    stats = json.loads(run("queue", "stats", "-o", "json").stdout)
    assert (stats["queue"], stats["depth"], stats["dlq_depth"]) == ("tasks", 0, 0)
    assert json.loads(run("queue", "messages", "-o", "json").stdout)["items"] == []

    run("catalog", "refresh")
    run("request", "submit", "postgres", "-t", "platform", "-s", "name=orders")

    stats = json.loads(run("queue", "stats", "-o", "json").stdout)
    assert stats["depth"] == 1
    table = run("queue", "stats").stdout
    assert "depth" in table and "dlq_depth" in table

    listed = json.loads(run("queue", "messages", "-o", "json").stdout)
    assert len(listed["items"]) == 1 and listed["next_cursor"] is None
    message = listed["items"][0]
    group = json.loads(
        run("queue", "messages", "--group", message["group_id"], "-o", "json").stdout
    )
    assert [m["id"] for m in group["items"]] == [message["id"]]
    assert message["id"][:8] in run("queue", "messages").stdout

    assert json.loads(run("queue", "dlq", "-o", "json").stdout)["items"] == []
    run("queue", "dlq")


def test_unknown_queue_and_dead_letter_exit_1(logged_in: LoggedIn) -> None:
    assert "error:" in run("queue", "stats", "--queue", "nope", code=1).stderr
    assert "error:" in run("queue", "redrive", "no-such-message", code=1).stderr
