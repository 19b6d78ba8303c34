"""Approvals in the portal: the list of approvals awaiting you (even for another team's
request) with Approve / Reject, the same buttons on the request page for its approvers,
and the requester refused."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from loom.provisioning.models import Request
from loom.settings import Settings
from loom.workers.runner import Outcome
from tests.catalog.conftest import write_catalog
from tests.conftest import Tenant, make_settings
from tests.provisioning.waits_support import drain
from tests.web.conftest import csrf_of
from tests.web.support import SignedIn, give_passwords, signed_in_as, submit_api, synced
from tests.web.test_catalog_pages import parse

__all__ = ["signed_in_as"]

GATED = """\
apiVersion: loom/v1
kind: CatalogItem
metadata: {id: gated, name: Gated thing, category: tests}
spec:
  form:
    fields: [{id: name, type: string, required: true}]
  approval:
    teams: [{team: team-b, minRole: operator}]
    users: [admin-a@loom.test]
  fulfillment:
    actions:
      - {id: vendor, type: callback}
"""


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    repo = write_catalog(tmp_path / "catalog-repo", {"catalog/gated.yaml": GATED})
    return make_settings(database_url, catalog={"source": str(repo)})


@pytest.fixture
async def people(app: FastAPI, tenant: Tenant) -> Tenant:
    await synced(app)
    await give_passwords(app, tenant)
    return tenant


async def _waiting(app: FastAPI, people: Tenant) -> str:
    request_id = await submit_api(app, people.headers["operator-a"], "gated", name="shop")
    assert await drain(app.state.runtime) == [Outcome.WAITING]
    return request_id


async def _task_states(app: FastAPI, request_id: str) -> tuple[str, list[str]]:
    async with app.state.runtime.sessions() as s:
        request = await s.get(Request, uuid.UUID(request_id))
        assert request is not None
        await s.refresh(request, ["tasks"])
        return request.state, [t.state for t in request.tasks]


def _listed(page: httpx.Response) -> list[str]:
    return [
        a.get("data-request") or "" for a in parse(page.text).find_all("article")
        if a.has("data-request")
    ]  # fmt: skip


async def test_an_approver_of_another_team_decides_from_the_list(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    request_id = await _waiting(app, people)
    client = await signed_in_as("operator-b@loom.test")
    page = await client.get("/ui/approvals")
    assert page.status_code == 200
    assert '<a href="/ui/approvals" aria-current="page">' in page.text
    assert _listed(page) == [request_id]
    assert "waiting for approval by team team-b or admin-a@loom.test (0 of 1)" in page.text
    assert f'href="/ui/requests/{request_id}"' not in page.text  # not their team's page

    form = {"csrf_token": csrf_of(page), "comment": "ok for team b"}
    decided = await client.post(f"/ui/approvals/{request_id}/approve", data=form)
    assert decided.status_code == 303
    assert decided.headers["location"] == "/ui/approvals?done=approved"
    after = await client.get(decided.headers["location"])
    assert "Approved." in after.text and _listed(after) == []
    assert await _task_states(app, request_id) == ("processing", ["completed", "queued"])


async def test_the_request_page_offers_its_approvers_the_decision(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    request_id = await _waiting(app, people)
    requester = await signed_in_as("operator-a@loom.test")
    own = await requester.get(f"/ui/requests/{request_id}")
    assert own.status_code == 200 and 'id="decide"' not in own.text

    approver = await signed_in_as("admin-a@loom.test")
    page = await approver.get(f"/ui/requests/{request_id}")
    assert parse(page.text).by_id("decide").find_all("button")
    form = {"csrf_token": csrf_of(page), "comment": "not now",
            "next": f"/ui/requests/{request_id}"}  # fmt: skip
    rejected = await approver.post(f"/ui/approvals/{request_id}/reject", data=form)
    assert rejected.status_code == 303
    assert rejected.headers["location"] == f"/ui/requests/{request_id}"
    state, tasks = await _task_states(app, request_id)
    assert state == "failed" and tasks == ["failed", "pending"]
    failed = await approver.get(f"/ui/requests/{request_id}")
    assert "rejected by admin-a@loom.test: not now" in failed.text
    assert 'id="decide"' not in failed.text


async def test_the_requester_is_refused_and_sees_no_buttons(
    app: FastAPI, people: Tenant, signed_in_as: SignedIn
) -> None:
    request_id = await _waiting(app, people)
    requester = await signed_in_as("operator-a@loom.test")
    page = await requester.get("/ui/approvals")
    assert _listed(page) == [] and parse(page.text).by_id("approvals-empty")
    form = {"csrf_token": csrf_of(page)}
    refused = await requester.post(f"/ui/approvals/{request_id}/approve", data=form)
    assert refused.status_code == 403
    assert "you cannot approve or reject your own request" in refused.text
    assert await _task_states(app, request_id) == ("processing", ["waiting", "pending"])
