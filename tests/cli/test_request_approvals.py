"""`loom request approvals|approve|reject` against a live server whose workers run the
tasks: an item's approval waits for the admin, who lists, approves and rejects."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from loom.cli.output import console
from loom.client import LoomClient
from loom.client.requests import RequestDetail
from loom.settings import Settings
from tests.catalog.conftest import write_catalog
from tests.cli.conftest import LoggedIn, run
from tests.client.conftest import mint_token
from tests.conftest import ADMIN_EMAIL, make_settings

pytestmark = pytest.mark.sqlite_only

GATED = f"""\
apiVersion: loom/v1
kind: CatalogItem
metadata: {{id: gated, name: Gated thing, category: tests}}
spec:
  form:
    fields:
      - {{id: name, type: string, required: true}}
  approval:
    users: [{ADMIN_EMAIL}]
  fulfillment:
    actions:
      - id: vendor
        type: callback
"""
RITA, RITA_PASSWORD = "rita@loom.test", "rita-password-1"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 250)  # no cell is folded


@pytest.fixture
def live_background() -> bool:
    return True  # the server's workers carry the requests out


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    catalog_dir = write_catalog(tmp_path / "catalog-repo", {"catalog/gated.yaml": GATED})
    return make_settings(database_url, catalog={"source": str(catalog_dir)})


@pytest.fixture
def rita(logged_in: LoggedIn) -> LoomClient:
    """A platform operator who asks for things (the admin approves them)."""
    run("catalog", "refresh")
    with LoomClient(logged_in.url, mint_token(logged_in.url)) as admin:
        admin.identity.create_user(RITA, password=RITA_PASSWORD)
        platform = next(t for t in admin.identity.teams() if t.slug == "platform")
        admin.core.request("PUT", f"/teams/{platform.id}/members",
                           json={"email": RITA, "role": "operator"})  # fmt: skip
    return LoomClient(logged_in.url, mint_token(logged_in.url, RITA, RITA_PASSWORD))


def _until(client: LoomClient, request_id: str, done: Callable[[RequestDetail], bool]) -> None:
    deadline = time.monotonic() + 15
    while not done(client.requests.get(request_id)):
        assert time.monotonic() < deadline, client.requests.get(request_id)
        time.sleep(0.05)


def _awaiting_approval(rita: LoomClient) -> str:
    request_id = str(rita.requests.submit("gated", {"name": "shop"}, team="platform").id)
    _until(rita, request_id, lambda r: (r.waiting_for or "").startswith("waiting for approval"))
    return request_id


def test_list_and_approve(rita: LoomClient) -> None:
    request_id = _awaiting_approval(rita)
    listed = json.loads(run("request", "approvals", "-o", "json").stdout)
    assert [a["request_id"] for a in listed["items"]] == [request_id]
    assert listed["items"][0]["requester"] == RITA
    table = run("request", "approvals").stdout
    assert request_id in table and "0 of 1" in table and RITA in table

    out = run("request", "approve", request_id, "--comment", "fine by me").stdout
    assert f"request {request_id} approved: processing" in out
    _until(rita, request_id, lambda r: r.waiting_for == "waiting for a callback")
    assert json.loads(run("request", "approvals", "-o", "json").stdout)["items"] == []
    logs = [line.message for line in rita.requests.logs(request_id)]
    assert f"approved by {ADMIN_EMAIL}: fine by me" in logs


def test_reject_fails_the_request(rita: LoomClient) -> None:
    request_id = _awaiting_approval(rita)
    out = run("request", "reject", request_id, "-m", "not now").stdout
    assert f"request {request_id} rejected: failed" in out
    assert f"error: rejected by {ADMIN_EMAIL}: not now" in out
    again = run("request", "approve", request_id, code=1)
    assert "not waiting for an approval" in again.stderr


def test_nobody_approves_their_own_request(rita: LoomClient, logged_in: LoggedIn) -> None:
    submitted = run("request", "submit", "gated", "--team", "platform", "--set", "name=mine")
    request_id = submitted.stdout.split("request ", 1)[1].split()[0]
    with LoomClient(logged_in.url, mint_token(logged_in.url)) as admin:
        _until(admin, request_id, lambda r: (r.waiting_for or "").startswith("waiting for"))
    refused = run("request", "approve", request_id, code=1)
    assert "you cannot approve or reject your own request" in refused.stderr
    assert json.loads(run("request", "approvals", "-o", "json").stdout)["items"] == []
