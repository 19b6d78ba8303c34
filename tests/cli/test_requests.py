"""`loom request ...` against a live server serving a small catalog (no worker runs:
submitted requests wait on the queue until a test aborts them)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from loom.cli.output import console
from loom.client import LoomClient
from loom.settings import Settings
from tests.catalog.conftest import CODEOWNERS, POSTGRES, write_catalog
from tests.cli.conftest import LoggedIn, run
from tests.client.conftest import mint_token
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


@pytest.fixture
def synced(logged_in: LoggedIn) -> LoggedIn:
    run("catalog", "refresh")
    return logged_in


def _submit_json(*args: str) -> dict[str, object]:
    out = run("request", "submit", "postgres", "--team", "platform", *args, "-o", "json").stdout
    data: dict[str, object] = json.loads(out)
    return data


def test_submit_list_show_logs_abort_round_trip(synced: LoggedIn, tmp_path: Path) -> None:
    out = run("request", "submit", "postgres", "--team", "platform", "--set", "name=orders").stdout
    assert "submitted" in out and "0 of 1 completed" in out
    assert f"track it: {synced.url}/ui/requests/" in out
    request_id = out.split("request ", 1)[1].split()[0]
    uuid.UUID(request_id)

    listed = json.loads(run("request", "list", "-o", "json").stdout)
    assert [r["id"] for r in listed["items"]] == [request_id]
    assert listed["next_cursor"] is None
    table = run("request", "list", "--all-teams", "--item", "postgres").stdout
    assert request_id[:8] in table and "submitted" in table
    empty = json.loads(run("request", "list", "--state", "completed", "-o", "json").stdout)
    assert empty["items"] == []

    shown = run("request", "show", request_id).stdout
    for text in ("postgres", "inputs.name", "orders", "tasks", "ticket", "jira-ticket", "queued"):
        assert text in shown
    detail = json.loads(run("request", "show", request_id, "-o", "json").stdout)
    assert detail["inputs"] == {"name": "orders", "size": "small"}
    assert [t["state"] for t in detail["tasks"]] == ["queued"]

    assert isinstance(json.loads(run("request", "logs", request_id, "-o", "json").stdout), list)
    run("request", "logs", request_id)

    aborted = run("request", "abort", request_id).stdout
    assert f"request {request_id} aborted: aborted" in aborted
    detail = json.loads(run("request", "show", request_id, "-o", "json").stdout)
    assert detail["state"] == "aborted" and detail["tasks"][0]["state"] == "skipped"

    # --file, with --set winning over it
    values = tmp_path / "input.yaml"
    values.write_text("name: billing\nsize: large\n", encoding="utf-8")
    data = _submit_json("--file", str(values), "--set", "size=medium")
    assert data["inputs"] == {"name": "billing", "size": "medium"}
    assert str(data["tracking_url"]).startswith(f"{synced.url}/ui/requests/")


def test_plan_shows_the_tasks_and_stores_nothing(synced: LoggedIn) -> None:
    out = run("request", "plan", "postgres", "--team", "platform", "-s", "name=orders").stdout
    assert "postgres 1.0.0: 1 task" in out
    assert "ticket" in out and "jira-ticket" in out and "Create orders (small)" in out
    data = json.loads(
        run(
            "request", "plan", "postgres", "-t", "platform", "-s", "name=orders", "-o", "json"
        ).stdout
    )
    assert [t["action_id"] for t in data["tasks"]] == ["ticket"]
    assert data["tasks"][0]["config"]["summary"] == "Create orders (small)"
    assert json.loads(run("request", "list", "-o", "json").stdout)["items"] == []


def test_invalid_input_exits_1_naming_the_fields(synced: LoggedIn) -> None:
    args = ("postgres", "--team", "platform", "--set", "name=X", "--set", "size=huge")
    for command in ("submit", "plan"):
        result = run("request", command, *args, code=1)
        assert "inputs.name" in result.stderr and "inputs.size" in result.stderr
        assert "VALIDATION_ERROR" in result.stderr
    assert json.loads(run("request", "list", "-o", "json").stdout)["items"] == []
    bad = run("request", "submit", "postgres", "--set", "oops", code=1)
    assert "expected FIELD=VALUE" in bad.stderr


def test_wait_on_an_aborted_request_exits_1(synced: LoggedIn) -> None:
    """`submit --wait` follows the request; aborted from elsewhere meanwhile, it exits 1."""
    stop = threading.Event()

    def abort_when_submitted() -> None:
        with LoomClient(synced.url, mint_token(synced.url)) as client:
            while not stop.is_set():
                found = client.requests.list().items
                if found:
                    client.requests.abort(found[0].id)
                    return
                time.sleep(0.05)

    aborter = threading.Thread(target=abort_when_submitted, daemon=True)
    aborter.start()
    try:
        result = run(
            "request", "submit", "postgres", "-t", "platform", "-s", "name=orders",
            "--wait", "--interval", "0.05", code=1,
        )  # fmt: skip
    finally:
        stop.set()
        aborter.join(timeout=10)
    assert "aborted" in result.stdout
    assert "0 of 1 completed" in result.stdout
    assert "0 of 1 completed" in result.stderr  # the progress bar

    request_id = json.loads(run("request", "list", "-o", "json").stdout)["items"][0]["id"]
    waited = run("request", "wait", request_id, "-o", "json", code=1)
    assert json.loads(waited.stdout)["state"] == "aborted"


def test_unknown_request_exits_1(synced: LoggedIn) -> None:
    result = run("request", "show", str(uuid.uuid4()), code=1)
    assert "error:" in result.stderr


def test_retry_of_a_request_that_did_not_fail_exits_1(synced: LoggedIn) -> None:
    request_id = str(_submit_json("-s", "name=orders")["id"])
    result = run("request", "retry", request_id, "--set", "name=orders2", code=1)
    assert "error:" in result.stderr
    assert json.loads(run("request", "show", request_id, "-o", "json").stdout)["inputs"] == {
        "name": "orders",
        "size": "small",
    }
