"""The request page's ticket panel: shown only when a task opened a ticket, and each
ticket's status read from JIRA when the button asks for it (a failing JIRA is a note on
its row, not a failed page)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from loom.demo.fakes.jira import FakeJira
from loom.workers.runner import Outcome
from tests.integrations.jira_requests import api_client, jira_app, run_next, submit
from tests.web.conftest import sign_in


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        yield fake


@pytest.fixture
async def app(database_url: str, tmp_path: Path, jira: FakeJira) -> AsyncIterator[FastAPI]:
    async for application in jira_app(database_url, tmp_path, jira):
        yield application


@pytest.fixture
async def portal(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://loom.test") as client:
        assert (await sign_in(client)).status_code == 303
        yield client


async def _request(app: FastAPI, tasks_to_run: int) -> str:
    async with await api_client(app) as api:
        request_id = await submit(api)
    for _ in range(tasks_to_run):
        assert await run_next(app.state.runtime) is Outcome.COMPLETED
    return request_id


async def test_the_panel_reads_each_ticket_status_when_asked(
    app: FastAPI, portal: httpx.AsyncClient, jira: FakeJira
) -> None:
    request_id = await _request(app, 2)
    before = len(jira.calls)
    page = await portal.get(f"/ui/requests/{request_id}")
    assert page.status_code == 200
    assert 'data-testid="ticket-status-button"' in page.text
    assert len(jira.calls) == before  # the page itself asks JIRA nothing

    jira.set_status("SEC-1", "In Progress")
    panel = await portal.get(f"/ui/requests/{request_id}/ticket-status")
    assert panel.status_code == 200
    assert 'data-ticket="OPS-1"' in panel.text and 'data-ticket="SEC-1"' in panel.text
    assert 'data-status="open"' in panel.text and 'data-status="in_progress"' in panel.text
    assert "(In Progress)" in panel.text and f"{jira.url}/browse/OPS-1" in panel.text


async def test_a_failing_jira_is_a_note_on_its_row(
    app: FastAPI, portal: httpx.AsyncClient, jira: FakeJira
) -> None:
    request_id = await _request(app, 2)
    jira.fail(500, times=100, method="GET", path="/issue/")
    panel = await portal.get(f"/ui/requests/{request_id}/ticket-status")
    assert panel.status_code == 200
    assert panel.text.count("could not read:") == 2


async def test_no_panel_before_any_ticket_and_no_page_for_strangers(
    app: FastAPI, portal: httpx.AsyncClient
) -> None:
    request_id = await _request(app, 0)
    page = await portal.get(f"/ui/requests/{request_id}")
    assert 'id="ticket-status"' not in page.text
    assert (await portal.get("/ui/requests/not-an-id/ticket-status")).status_code == 404
