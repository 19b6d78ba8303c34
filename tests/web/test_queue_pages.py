"""The admin queue page: organisation admins only; the queue's figures, its messages and
dead letters (bodies masked), and Redrive (CSRF, audited)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from loom.queue.factory import queue_for
from loom.queue.sql import SqlQueue
from tests.conftest import ADMIN_EMAIL, Tenant
from tests.queue.conftest import FakeClock
from tests.web.conftest import csrf_of
from tests.web.support import SignedIn, give_passwords, signed_in_as
from tests.web.test_catalog_pages import parse

__all__ = ["signed_in_as"]

PAGE = "/ui/admin/queue"


@pytest.fixture
async def queue(app: FastAPI) -> AsyncIterator[SqlQueue]:
    """The app's "tasks" queue, on a clock the test moves."""
    runtime = app.state.runtime
    tasks = SqlQueue(runtime.sessions, "tasks", now=FakeClock())
    runtime.extras.setdefault("queues", {})["tasks"] = tasks
    assert queue_for(runtime, "tasks") is tasks
    yield tasks


async def _dead_letter(queue: SqlQueue, group: str, body: dict[str, object]) -> str:
    """Send a message and let it exhaust its receives; its id."""
    message_id = await queue.send(group, body)
    assert message_id is not None
    clock = queue._now
    assert isinstance(clock, FakeClock)
    for _ in range(3):
        assert await queue.receive(1, visibility_timeout=1)
        clock.advance(2)
    assert await queue.receive(1) == []
    return message_id


def _figures(page: httpx.Response) -> dict[str, str]:
    stats = parse(page.text).by_id("queue-stats")
    return {
        node.get("data-stat") or "": node.find_all("strong")[0].text
        for node in stats.all()
        if node.has("data-stat")
    }


async def test_admins_see_figures_messages_and_dead_letters(
    signed_in: httpx.AsyncClient, queue: SqlQueue
) -> None:
    dead_id = await _dead_letter(queue, "g0", {"task_id": "t0", "password": "hunter2"})
    await queue.send("g1", {"request_id": "1b7a5b0e-0000-4000-8000-000000000001", "task_id": "t1"})
    await queue.send("g2", {"task_id": "t2"}, delay_seconds=60)
    page = await signed_in.get(PAGE)
    assert page.status_code == 200
    assert '<a href="/ui/admin/queue" aria-current="page">' in page.text
    figures = _figures(page)
    assert figures["depth"] == "2" and figures["delayed"] == "1" and figures["visible"] == "1"
    assert figures["in_flight"] == "0" and figures["dlq_depth"] == "1"
    assert figures["rate"] == "0.0" and figures["oldest_age"] == "0 s"
    stats = parse(page.text).by_id("queue-stats")
    assert stats.get("hx-get") == "/ui/admin/queue/stats?queue=tasks"
    assert stats.get("hx-trigger") == "every 5s"

    doc = parse(page.text)
    messages = [r for r in doc.by_id("messages").find_all("tr") if r.has("data-message")]
    assert len(messages) == 2
    assert "1b7a5b0e-0000-4000-8000-000000000001" in messages[0].text
    link = messages[0].find_all("a")[0]
    assert link.get("href") == "/ui/requests/1b7a5b0e-0000-4000-8000-000000000001"
    [letter] = [r for r in doc.by_id("dead-letters").find_all("tr") if r.has("data-message")]
    assert letter.get("data-message") == dead_id
    assert "hunter2" not in page.text and "••••" in letter.text
    form = letter.find_all("form")[0]
    assert form.get("action") == f"{PAGE}/dlq/{dead_id}/redrive"

    fragment = await signed_in.get(f"{PAGE}/stats")
    assert fragment.text.lstrip().startswith('<article id="queue-stats"')
    assert _figures(fragment)["depth"] == "2"


async def test_redrive_puts_the_letter_back_and_is_audited(
    signed_in: httpx.AsyncClient, queue: SqlQueue, admin_headers: dict[str, str]
) -> None:
    dead_id = await _dead_letter(queue, "g1", {"task_id": "t1"})
    page = await signed_in.get(PAGE)
    refused = await signed_in.post(f"{PAGE}/dlq/{dead_id}/redrive", data={"queue": "tasks"})
    assert refused.status_code == 403  # no CSRF token
    assert len((await queue.dlq_list()).items) == 1

    response = await signed_in.post(
        f"{PAGE}/dlq/{dead_id}/redrive", data={"csrf_token": csrf_of(page), "queue": "tasks"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{PAGE}?queue=tasks&redriven={dead_id}"
    assert (await queue.dlq_list()).items == []
    [back] = (await queue.list("g1")).items
    assert (back.id, back.receive_count) == (dead_id, 0)
    after = await signed_in.get(response.headers["location"])
    assert dead_id in parse(after.text).by_id("redriven").text
    assert "No dead letters." in after.text
    audit = await signed_in.get(
        "/api/v1/audit", params={"action": "queue.redrive"}, headers=admin_headers
    )
    assert [e["target_id"] for e in audit.json()["items"]] == [dead_id]

    again = await signed_in.post(
        f"{PAGE}/dlq/{dead_id}/redrive", data={"csrf_token": csrf_of(page), "queue": "tasks"}
    )
    assert again.status_code == 404


async def test_only_organisation_admins_reach_the_queue(
    app: FastAPI, tenant: Tenant, signed_in_as: SignedIn, client: httpx.AsyncClient
) -> None:
    anonymous = await client.get(PAGE)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/ui/login")
    await give_passwords(app, tenant)
    team_admin = await signed_in_as("admin-a@loom.test")
    home = await team_admin.get("/ui")
    assert 'href="/ui/admin/queue"' not in home.text  # not in their navigation either
    for path in (PAGE, f"{PAGE}/stats"):
        response = await team_admin.get(path)
        assert response.status_code == 403, path
        assert "requires the admin role in the organisation" in response.text
    refused = await team_admin.post(
        f"{PAGE}/dlq/anything/redrive", data={"csrf_token": csrf_of(home), "queue": "tasks"}
    )
    assert refused.status_code == 403
    admin = await signed_in_as(ADMIN_EMAIL)
    assert 'href="/ui/admin/queue"' in (await admin.get("/ui")).text


async def test_an_unknown_queue_is_a_404(signed_in: httpx.AsyncClient) -> None:
    response = await signed_in.get(PAGE, params={"queue": "nope"})
    assert response.status_code == 404
    assert "no queue named &#39;nope&#39;" in response.text


async def test_a_backend_that_cannot_list_says_so(
    signed_in: httpx.AsyncClient, app: FastAPI
) -> None:
    from loom.queue.sqs import SqsQueue, create_fifo_queues
    from tests.queue.conftest import moto_sqs

    with moto_sqs() as sqs:
        tasks = SqsQueue(sqs, "tasks", create_fifo_queues(sqs, "tasks"))
        app.state.runtime.extras.setdefault("queues", {})["tasks"] = tasks
        await tasks.send("g1", {"task_id": "t1"})
        page = await signed_in.get(PAGE)
    assert page.status_code == 200
    assert _figures(page)["visible"] == "1"
    assert "cannot" in parse(page.text).by_id("messages").text.lower()
