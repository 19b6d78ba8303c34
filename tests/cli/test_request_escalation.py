"""`loom request escalate|complete` against a live server whose workers run the tasks: a
`jira-ticket` task fails (its project does not exist in the fake JIRA), the request is
escalated to the escalation project and then completed by hand; JIRA failing is an
error naming its answer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loom.cli.output import console
from loom.client import LoomClient
from loom.demo.fakes.jira import FakeJira
from loom.settings import Settings
from tests.catalog.conftest import POSTGRES, write_catalog
from tests.cli.conftest import LoggedIn, run
from tests.client.conftest import mint_token
from tests.conftest import make_settings

pytestmark = pytest.mark.sqlite_only


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 250)  # no cell is folded


@pytest.fixture
def live_background() -> bool:
    return True  # the server's workers carry the requests out


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        yield fake


@pytest.fixture
def settings(database_url: str, tmp_path: Path, jira: FakeJira) -> Settings:
    catalog_dir = write_catalog(tmp_path / "catalog-repo", {"catalog/postgres.yaml": POSTGRES})
    main = {"base_url": jira.url, "email": jira.email, "token": jira.token}
    return make_settings(
        database_url, catalog={"source": str(catalog_dir)},
        integrations={"jira": {"main": main}, "escalation": {"project": "OPS"}},
    )  # fmt: skip


@pytest.fixture
def failed(logged_in: LoggedIn) -> str:
    """A request whose jira-ticket task failed (project DBA does not exist); its id."""
    run("catalog", "refresh")
    with LoomClient(logged_in.url, mint_token(logged_in.url)) as admin:
        request_id = str(admin.requests.submit("postgres", {"name": "orders"}, team="platform").id)
        deadline = time.monotonic() + 15
        while admin.requests.status(request_id).state != "failed":
            assert time.monotonic() < deadline, admin.requests.get(request_id)
            time.sleep(0.05)
    return request_id


def test_escalate_then_complete(failed: str, jira: FakeJira) -> None:
    out = run("request", "escalate", failed).stdout
    assert f"request {failed} escalated: escalated, 0 of 1 completed" in out
    assert "OPS-1" in out and f"{jira.url}/browse/OPS-1" in out
    assert "Specify a valid project ID or key" in jira.issues["OPS-1"].description

    again = run("request", "escalate", failed, code=1)
    assert "the request is already escalated (tickets OPS-1)" in again.stderr

    done = json.loads(run("request", "complete", failed, "-m", "made by the DBAs", "-o", "json")
                      .stdout)  # fmt: skip
    assert done["state"] == "completed"
    assert done["tasks"][0]["state"] == "completed"
    assert done["tasks"][0]["external_refs"]["jira"] == "OPS-1"


def test_jira_failing_is_an_error_naming_its_answer(failed: str, jira: FakeJira) -> None:
    jira.fail(503, times=10)  # reads are tried three times

    refused = run("request", "escalate", failed, code=1)

    assert "JIRA answered 503, the escalation stopped" in refused.stderr
    shown = json.loads(run("request", "show", failed, "-o", "json").stdout)
    assert shown["state"] == "failed" and jira.issues == {}
