"""The queue API: org admins only, stats, message and dead-letter listings, redrive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from loom.queue.factory import queue_for
from loom.queue.protocol import Queue
from loom.queue.sql import SqlQueue
from tests.conftest import Tenant
from tests.queue.conftest import FakeClock

API = "/api/v1/queue"


@pytest.fixture
async def queue(app: FastAPI) -> AsyncIterator[SqlQueue]:
    """The app's "tasks" queue, on a clock the test moves."""
    runtime = app.state.runtime
    clock = FakeClock()
    tasks = SqlQueue(runtime.sessions, "tasks", now=clock)
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


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/stats"),
        ("GET", "/messages"),
        ("GET", "/messages/g1"),
        ("GET", "/dlq/messages"),
        ("POST", "/dlq/00000000-0000-0000-0000-000000000000/redrive"),
    ],
)
async def test_only_org_admins_reach_the_queue(
    client: httpx.AsyncClient, tenant: Tenant, method: str, path: str
) -> None:
    anonymous = await client.request(method, API + path)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHENTICATED"
    team_admin = await client.request(method, API + path, headers=tenant.headers["admin-a"])
    assert team_admin.status_code == 403
    assert team_admin.json()["error"]["code"] == "FORBIDDEN"


async def test_stats(
    client: httpx.AsyncClient, admin_headers: dict[str, str], queue: Queue
) -> None:
    await queue.send("g1", {"task_id": "t1"})
    await queue.send("g2", {"task_id": "t2"}, delay_seconds=60)
    response = await client.get(f"{API}/stats", headers=admin_headers)
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "queue": "tasks",
        "depth": 2,
        "visible": 1,
        "in_flight": 0,
        "delayed": 1,
        "oldest_age_seconds": 0.0,
        "processed_per_minute": 0.0,
        "processed_by_minute": [0, 0, 0, 0, 0],
        "dlq_depth": 0,
    }


async def test_unknown_queue_is_a_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(f"{API}/stats", params={"queue": "nope"}, headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_messages_page_in_delivery_order_with_masked_bodies(
    client: httpx.AsyncClient, admin_headers: dict[str, str], queue: Queue
) -> None:
    for i in range(3):
        await queue.send("g1" if i != 1 else "g2", {"task_id": f"t{i}", "api_token": "s3cret"})
    [received] = await queue.receive(1)
    first = await client.get(f"{API}/messages", params={"limit": 2}, headers=admin_headers)
    assert first.status_code == 200
    page = first.json()
    assert [m["body"]["task_id"] for m in page["items"]] == ["t0", "t1"]
    assert page["items"][0]["body"]["api_token"] == "••••"
    assert page["items"][0]["state"] == "in_flight" and page["items"][0]["receive_count"] == 1
    assert page["items"][0]["id"] == received.id
    assert set(page["items"][0]) == {
        "id",
        "group_id",
        "state",
        "receive_count",
        "sent_at",
        "visible_at",
        "body",
    }
    rest = await client.get(
        f"{API}/messages", params={"cursor": page["next_cursor"]}, headers=admin_headers
    )
    assert [m["body"]["task_id"] for m in rest.json()["items"]] == ["t2"]
    assert rest.json()["next_cursor"] is None
    group = await client.get(f"{API}/messages/g1", headers=admin_headers)
    assert [m["body"]["task_id"] for m in group.json()["items"]] == ["t0", "t2"]
    sparse = await client.get(
        f"{API}/messages", params={"fields": "id,state"}, headers=admin_headers
    )
    assert all(set(m) == {"id", "state"} for m in sparse.json()["items"])


async def test_dead_letters_listed_and_redriven(
    client: httpx.AsyncClient, admin_headers: dict[str, str], queue: SqlQueue
) -> None:
    dead_id = await _dead_letter(queue, "g1", {"task_id": "t1", "password": "x"})
    listed = await client.get(f"{API}/dlq/messages", headers=admin_headers)
    assert listed.status_code == 200
    [letter] = listed.json()["items"]
    assert letter["id"] == dead_id and letter["group_id"] == "g1"
    assert letter["receive_count"] == 3 and letter["body"]["password"] == "••••"
    assert listed.json()["next_cursor"] is None

    redriven = await client.post(f"{API}/dlq/{dead_id}/redrive", headers=admin_headers)
    assert redriven.status_code == 200
    assert redriven.json() == {"id": dead_id, "queue": "tasks", "redriven": True}
    assert (await client.get(f"{API}/dlq/messages", headers=admin_headers)).json()["items"] == []
    [back] = (await client.get(f"{API}/messages/g1", headers=admin_headers)).json()["items"]
    assert (back["id"], back["receive_count"], back["state"]) == (dead_id, 0, "visible")
    audit = await client.get(
        "/api/v1/audit", params={"action": "queue.redrive"}, headers=admin_headers
    )
    assert [e["target_id"] for e in audit.json()["items"]] == [dead_id]


async def test_redrive_of_an_unknown_message_is_a_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str], queue: Queue
) -> None:
    for message_id in ("00000000-0000-0000-0000-000000000000", "not-an-id"):
        response = await client.post(f"{API}/dlq/{message_id}/redrive", headers=admin_headers)
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["code"] == "NOT_FOUND" and message_id in error["message"]
        assert error["correlation_id"]


async def test_listing_on_a_backend_that_cannot_is_a_501(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app: FastAPI
) -> None:
    from loom.queue.sqs import SqsQueue, create_fifo_queues
    from tests.queue.conftest import moto_sqs

    with moto_sqs() as sqs:
        tasks = SqsQueue(sqs, "tasks", create_fifo_queues(sqs, "tasks"))
        app.state.runtime.extras.setdefault("queues", {})["tasks"] = tasks
        for path in ("/messages", "/messages/g1", "/dlq/messages"):
            response = await client.get(API + path, headers=admin_headers)
            assert response.status_code == 501
            assert response.json()["error"]["code"] == "NOT_SUPPORTED"
        await tasks.send("g1", {"task_id": "t1"})
        stats = await client.get(f"{API}/stats", headers=admin_headers)
        assert stats.status_code == 200 and stats.json()["visible"] == 1
