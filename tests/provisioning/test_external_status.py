"""`GET /requests/{id}?include=external_status`: each task's JIRA ticket status read
when asked (and only then), in Loom's words; a JIRA that fails or is too slow gives an
error note on the task and the page still answers 200."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from loom.demo.fakes.jira import FakeJira
from loom.platform.http import http_clients
from loom.provisioning import external_status
from loom.provisioning.external_status import ExternalStatus, external_statuses
from loom.workers.runner import Outcome
from tests.integrations.jira_requests import api_client, jira_app, run_next, submit


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        yield fake


@pytest.fixture
async def app(database_url: str, tmp_path: Path, jira: FakeJira) -> AsyncIterator[FastAPI]:
    async for application in jira_app(database_url, tmp_path, jira):
        yield application


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with await api_client(app) as client:
        yield client


async def _fulfilled(app: FastAPI, api: httpx.AsyncClient) -> str:
    request_id = await submit(api)
    for _ in range(2):
        assert await run_next(app.state.runtime) is Outcome.COMPLETED
    return request_id


async def _statuses(api: httpx.AsyncClient, request_id: str) -> list[Any]:
    response = await api.get(
        f"/api/v1/requests/{request_id}", params={"include": "external_status"}
    )
    assert response.status_code == 200, response.text
    return [task["external_status"] for task in response.json()["tasks"]]


async def test_each_ticket_shows_its_status_now(
    app: FastAPI, api: httpx.AsyncClient, jira: FakeJira
) -> None:
    request_id = await _fulfilled(app, api)
    jira.set_status("SEC-1", "In Progress")
    review, firewall = await _statuses(api, request_id)
    assert review == {"system": "jira", "key": "OPS-1", "url": f"{jira.url}/browse/OPS-1",
                      "status": "open", "raw_status": "To Do", "error": None}  # fmt: skip
    assert (firewall["status"], firewall["raw_status"]) == ("in_progress", "In Progress")
    jira.set_status("OPS-1", "Done")
    assert (await _statuses(api, request_id))[0]["status"] == "done"


async def test_without_include_jira_is_not_asked(
    app: FastAPI, api: httpx.AsyncClient, jira: FakeJira
) -> None:
    request_id = await _fulfilled(app, api)
    before = len(jira.calls)
    body = (await api.get(f"/api/v1/requests/{request_id}")).json()
    assert [task["external_status"] for task in body["tasks"]] == [None, None]
    assert len(jira.calls) == before


async def test_a_failing_jira_is_a_note_on_the_task_not_a_failed_page(
    app: FastAPI, api: httpx.AsyncClient, jira: FakeJira
) -> None:
    request_id = await _fulfilled(app, api)
    jira.fail(503, times=4, method="GET", body="Service Unavailable")
    review, firewall = await _statuses(api, request_id)
    for task, key in ((review, "OPS-1"), (firewall, "SEC-1")):
        assert (task["key"], task["status"], task["raw_status"]) == (key, None, None)
        assert f"reading {key} failed" in task["error"] and "answered 503" in task["error"]


async def test_a_deleted_ticket_is_a_note_too(
    app: FastAPI, api: httpx.AsyncClient, jira: FakeJira
) -> None:
    request_id = await _fulfilled(app, api)
    del jira.issues["SEC-1"]
    review, firewall = await _statuses(api, request_id)
    assert review["status"] == "open"
    assert firewall["error"].startswith("JIRA main: ticket SEC-1 not found")


async def test_an_unknown_include_is_refused_naming_it(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    request_id = await submit(api)
    response = await api.get(f"/api/v1/requests/{request_id}", params={"include": "weather"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == "query.include[0]"


async def test_a_slow_jira_is_cut_short(
    app: FastAPI, jira: FakeJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(external_status, "LOOKUP_SECONDS", 0.5)
    jira.slow(3.0, times=2, method="GET")
    runtime = app.state.runtime
    refs = {uuid.uuid4(): {"jira": "OPS-1"}, uuid.uuid4(): {"record": "r-1"}}
    found = await external_statuses(uuid.uuid4(), refs, http_clients(runtime), runtime.settings)
    [status] = found.values()
    assert isinstance(status, ExternalStatus) and status.key == "OPS-1"
    assert status.status is None and "no answer within" in str(status.error)


async def test_an_instance_no_longer_configured_is_named(app: FastAPI) -> None:
    runtime = app.state.runtime
    refs = {uuid.uuid4(): {"jira": "OPS-1", "jira_instance": "old", "url": "https://x/OPS-1"}}
    [status] = (
        await external_statuses(uuid.uuid4(), refs, http_clients(runtime), runtime.settings)
    ).values()
    assert status.url == "https://x/OPS-1"
    assert status.error == "no JIRA instance named 'old' (configured: main)"
