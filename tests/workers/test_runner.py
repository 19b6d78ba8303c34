"""Carrying out tasks from the queue: order, outputs, failure and retry, abort,
redelivery after a crash (reconcile), stuck tasks, timeouts, and the pool."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import select

from loom.audit.models import AuditEntry
from loom.platform.runtime import Runtime
from loom.provisioning.dispatch import TASK_QUEUE, enqueue_for
from loom.queue.factory import queue_for
from loom.secrets.crypto import derive_key
from loom.workers.fast_path import fast_path_for
from loom.workers.pool import WorkerPool
from loom.workers.runner import ActionOutcome, Delivery, FastPath, Outcome, TaskRun, run_task


class FakeActions:
    """Records every run; fails the actions named in `fail`."""

    def __init__(self, fail: set[str] | None = None, delay: float = 0.0) -> None:
        self.runs: list[TaskRun] = []
        self.fail = fail or set()
        self.delay = delay

    async def __call__(self, run: TaskRun) -> ActionOutcome:
        self.runs.append(run)
        if self.delay:
            await asyncio.sleep(self.delay)
        if run.config.get("project") in self.fail or run.action_type in self.fail:
            return ActionOutcome(ok=False, error=f"{run.action_type} failed: HTTP 500")
        key = "ticket_key" if run.action_type == "jira-ticket" else "url"
        return ActionOutcome(ok=True, outputs={key: f"{run.action_type}-{len(self.runs)}"},
                             external_refs={"id": str(run.task_id)}, log=["did the thing"])  # fmt: skip


async def drain(
    runtime: Runtime,
    actions: FakeActions,
    *,
    task_seconds: float = 30.0,
    fast: FastPath | Literal["product"] | None = "product",
    chain: bool = False,
) -> list[Outcome]:
    """Process messages one by one until the queue is empty, through the hot path a
    worker pool would take (`fast`: another one, or None for the ORM path only); with
    `chain`, as the pool does, letting the hot path hand a request's next task over to the
    same delivery (one outcome per delivery then)."""
    queue = queue_for(runtime, TASK_QUEUE)
    path = fast_path_for(runtime, queue, 1) if fast == "product" else fast
    outcomes: list[Outcome] = []
    while messages := await queue.receive(1, 30.0):
        [message] = messages
        delivery = Delivery(message.receipt) if chain else None
        outcome = await run_task(
            runtime.sessions, message.body, receive_count=message.receive_count, max_receives=3,
            secrets_key=derive_key(runtime.settings.secret_key.get_secret_value()),
            execute=actions, enqueue=enqueue_for(runtime), timeout_seconds=task_seconds,
            fast=path, delivery=delivery, may_chain=lambda: chain,
        )  # fmt: skip
        if delivery is None or not delivery.acked:
            await queue.delete(message.receipt)
        outcomes.append(outcome)
    return outcomes


async def submit(api: httpx.AsyncClient, item: str = "web-service") -> str:
    body = {"item": item, "team": "platform", "inputs": {"name": "shop"}}
    response = await api.post("/api/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def detail(api: httpx.AsyncClient, request_id: str) -> dict[str, Any]:
    return dict((await api.get(f"/api/v1/requests/{request_id}")).json())


async def test_bundle_runs_in_order_and_completes(synced: Runtime, api: httpx.AsyncClient) -> None:
    actions = FakeActions()
    request_id = await submit(api)
    assert await drain(synced, actions) == [Outcome.COMPLETED, Outcome.COMPLETED]
    request = await detail(api, request_id)
    assert request["state"] == "completed" and request["progress"] == "2 of 2 completed"
    assert [r.action_type for r in actions.runs] == ["rest-api", "jira-ticket"]
    # The second task saw the first task's outputs.
    assert actions.runs[1].outputs_so_far == {"url": "rest-api-1"}
    assert request["outputs"] == {"url": "rest-api-1", "ticket_key": "jira-ticket-2"}
    logs = [
        line["message"] for line in (await api.get(f"/api/v1/requests/{request_id}/logs")).json()
    ]
    assert "did the thing" in logs and any("completed → " not in m for m in logs)
    # The worker carried the request's correlation id into its audit entries.
    async with synced.sessions() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.target_id == request_id))
        ).all()
    assert [e.action for e in entries] == ["request.submit", "request.processing",
                                           "request.completed"]  # fmt: skip
    assert {e.correlation_id for e in entries} == {request["correlation_id"]}


async def test_failure_stops_the_request_and_retry_resumes_it(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    actions = FakeActions(fail={"DBA"})
    request_id = await submit(api)
    assert await drain(synced, actions) == [Outcome.COMPLETED, Outcome.FAILED]
    failed = await detail(api, request_id)
    assert failed["state"] == "failed" and "HTTP 500" in failed["error"]
    assert [t["state"] for t in failed["tasks"]] == ["completed", "failed"]
    assert await drain(synced, actions) == []  # nothing more was queued

    actions.fail.clear()
    assert (await api.post(f"/api/v1/requests/{request_id}/retry")).status_code == 200
    assert await drain(synced, actions) == [Outcome.COMPLETED]
    done = await detail(api, request_id)
    assert done["state"] == "completed"
    # The completed first task was not run again and kept its outputs.
    assert [r.action_type for r in actions.runs] == ["rest-api", "jira-ticket", "jira-ticket"]
    assert done["outputs"]["url"] == "rest-api-1"


async def test_a_message_for_an_aborted_request_skips(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    actions = FakeActions()
    request_id = await submit(api)
    await api.post(f"/api/v1/requests/{request_id}/abort")
    assert await drain(synced, actions) == [Outcome.DUPLICATE]
    assert actions.runs == []


async def test_redelivered_task_is_marked_for_reconcile_then_stuck(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    """A worker that dies mid-task leaves the task `processing`; the redelivered message
    must not blindly run it again, and one that keeps timing out becomes stuck."""
    request_id = await submit(api, "postgres")
    queue = queue_for(synced, TASK_QUEUE)
    [message] = await queue.receive(1, 30.0)
    key = derive_key(synced.settings.secret_key.get_secret_value())

    class Dies(FakeActions):
        async def __call__(self, run: TaskRun) -> ActionOutcome:
            self.runs.append(run)
            raise asyncio.CancelledError  # the process died mid-action

    with pytest.raises(asyncio.CancelledError):
        await run_task(synced.sessions, message.body, receive_count=1, max_receives=3,
                       secrets_key=key, execute=Dies(), enqueue=enqueue_for(synced),
                       timeout_seconds=5)  # fmt: skip
    assert (await detail(api, request_id))["tasks"][0]["state"] == "processing"

    actions = FakeActions()
    outcome = await run_task(synced.sessions, message.body, receive_count=2, max_receives=3,
                             secrets_key=key, execute=actions, enqueue=enqueue_for(synced),
                             timeout_seconds=5)  # fmt: skip
    assert outcome is Outcome.COMPLETED and actions.runs[0].redelivered is True
    assert actions.runs[0].attempt == 2

    other = await submit(api, "postgres")
    [message] = await queue.receive(1, 30.0)
    with pytest.raises(asyncio.CancelledError):
        await run_task(synced.sessions, message.body, receive_count=1, max_receives=3,
                       secrets_key=key, execute=Dies(), enqueue=enqueue_for(synced),
                       timeout_seconds=5)  # fmt: skip
    stuck = await run_task(synced.sessions, message.body, receive_count=3, max_receives=3,
                           secrets_key=key, execute=actions, enqueue=enqueue_for(synced),
                           timeout_seconds=5)  # fmt: skip
    assert stuck is Outcome.STUCK
    request = await detail(api, other)
    assert request["state"] == "failed" and request["tasks"][0]["state"] == "stuck"


async def test_an_action_over_its_time_fails_the_task(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    request_id = await submit(api, "postgres")
    assert await drain(synced, FakeActions(delay=1.0), task_seconds=0.1) == [Outcome.FAILED]
    assert "longer than 0.1 s" in (await detail(api, request_id))["error"]


async def test_pool_completes_requests_in_parallel_and_stops_gracefully(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    ids = [await submit(api) for _ in range(5)]
    actions = FakeActions(delay=0.05)
    pool = WorkerPool(synced, queue_for(synced, TASK_QUEUE), actions, enqueue_for(synced),
                      concurrency=4, poll_interval=0.05)  # fmt: skip
    pool.start()
    try:
        for _ in range(200):
            states = {(await detail(api, i))["state"] for i in ids}
            if states == {"completed"}:
                break
            await asyncio.sleep(0.05)
    finally:
        await pool.stop(grace_seconds=5)
    assert states == {"completed"}
    assert len(actions.runs) == 10
    # Within each request the tasks ran in order.
    for request_id in ids:
        mine = [r.action_type for r in actions.runs if r.request_id == uuid.UUID(request_id)]
        assert mine == ["rest-api", "jira-ticket"]


async def test_a_stopping_pool_queues_the_next_task_instead_of_running_it(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    # On PostgreSQL a running pool hands a request's next task to the same delivery; once
    # it is told to stop, the grace period is for the task running, not the rest.
    request_id = await submit(api)
    actions = FakeActions(delay=0.5)
    pool = WorkerPool(synced, queue_for(synced, TASK_QUEUE), actions, enqueue_for(synced),
                      concurrency=1, poll_interval=0.05)  # fmt: skip
    pool.start()
    for _ in range(100):
        if actions.runs:
            break
        await asyncio.sleep(0.02)
    await pool.stop(grace_seconds=5)
    assert len(actions.runs) == 1
    tasks = (await detail(api, request_id))["tasks"]
    assert [t["state"] for t in tasks] == ["completed", "queued"]
    [message] = await queue_for(synced, TASK_QUEUE).receive(1, 30.0)
    assert message.body["task_id"] == tasks[1]["id"]
