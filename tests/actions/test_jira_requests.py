"""jira-ticket in real requests, through the worker and the database: a bundle's tickets
are chained ("Blocks" in task order) and describe the request; a task whose ticket was
created but whose answer was lost is retried by a person and finds that ticket instead
of opening a second one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from loom.demo.fakes.jira import FakeJira
from loom.workers.runner import Outcome
from tests.integrations.jira_requests import PUBLIC_URL, api_client, jira_app, run_next, submit


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        yield fake


@pytest.fixture
async def app(database_url: str, tmp_path: Path, jira: FakeJira) -> AsyncIterator[FastAPI]:
    async for application in jira_app(database_url, tmp_path, jira):
        yield application


async def test_a_bundles_tickets_are_chained_and_describe_the_request(
    app: FastAPI, jira: FakeJira
) -> None:
    runtime = app.state.runtime
    async with await api_client(app) as api:
        request_id = await submit(api, "lb-1")
        assert await run_next(runtime) is Outcome.COMPLETED
        assert await run_next(runtime) is Outcome.COMPLETED
        request = (await api.get(f"/api/v1/requests/{request_id}")).json()

    assert request["state"] == "completed"
    review, firewall = request["tasks"]
    assert review["outputs"] == {"ticketKey": "OPS-1", "ticketUrl": f"{jira.url}/browse/OPS-1"}
    assert firewall["external_refs"] == {
        "jira": "SEC-1", "url": f"{jira.url}/browse/SEC-1", "jira_instance": "main"
    }  # fmt: skip
    assert jira.blockers_of("SEC-1") == ["OPS-1"]
    ops = jira.issues["OPS-1"]
    assert ops.labels == ["review", f"loom-task-{review['id']}", f"loom-request-{request_id}"]
    assert ops.description == (
        "Requested through Loom by Administrator <admin@loom.test>.\n\n"
        "||Field||Value||\n|name|lb-1|\n|public|no|\n\n"
        f"[Loom request {request_id}|{PUBLIC_URL}/ui/requests/{request_id}]"
    )


async def test_a_retried_task_finds_its_ticket_instead_of_opening_another(
    app: FastAPI, jira: FakeJira
) -> None:
    runtime = app.state.runtime
    jira.fail(504, method="POST", path="/issue$", after_effect=True, body="Gateway Timeout")
    async with await api_client(app) as api:
        request_id = await submit(api)
        assert await run_next(runtime) is Outcome.FAILED
        failed = (await api.get(f"/api/v1/requests/{request_id}")).json()
        assert "answered 504: Gateway Timeout" in failed["tasks"][0]["error"]
        assert len(jira.issues) == 1  # created all the same

        assert (await api.post(f"/api/v1/requests/{request_id}/retry")).status_code == 200
        assert await run_next(runtime) is Outcome.COMPLETED
        assert await run_next(runtime) is Outcome.COMPLETED
        request = (await api.get(f"/api/v1/requests/{request_id}")).json()
        logs = (await api.get(f"/api/v1/requests/{request_id}/logs")).json()

    assert request["state"] == "completed"
    assert [task["outputs"]["ticketKey"] for task in request["tasks"]] == ["OPS-1", "SEC-1"]
    assert sorted(jira.issues) == ["OPS-1", "SEC-1"]  # no second OPS ticket
    assert len(jira.calls_to("POST", "/issue$")) == 2
    assert jira.blockers_of("SEC-1") == ["OPS-1"]
    messages = [line["message"] for line in logs]
    assert "found OPS-1, created by an earlier attempt: not creating another" in messages
