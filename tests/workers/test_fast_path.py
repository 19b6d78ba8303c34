"""The PostgreSQL hot paths (the worker's raw claim and finish, the raw submission) leave
exactly the rows the ORM paths leave: the same request and task states, outputs, log
lines and audit entries, and an audit chain that verifies. Each case runs one request
through the hot paths and one through the ORM paths on the same database and compares
them, and checks that the hot paths were taken (or declined) as expected."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from loom.audit import service as audit
from loom.audit.models import AuditEntry
from loom.platform.runtime import Runtime
from loom.provisioning import service
from loom.provisioning.dispatch import TASK_QUEUE, enqueue_for
from loom.provisioning.models import FulfillmentTask, Request, TaskLog
from loom.queue.factory import queue_for
from loom.secrets.crypto import derive_key
from loom.workers.fast_path import FastPath, fast_path_for
from loom.workers.runner import ActionOutcome, Delivery, Outcome, TaskRun, run_task
from tests.workers.test_runner import FakeActions, drain, submit


class CountingFastPath:
    """The real fast path, counting what it took and what it left to the ORM path."""

    def __init__(self, inner: FastPath) -> None:
        self.inner = inner
        self.claimed = self.declined_claims = self.finished = self.declined_finishes = 0
        self.handed_over = 0

    async def claim(self, request_id: uuid.UUID, task_id: uuid.UUID) -> TaskRun | None:
        run = await self.inner.claim(request_id, task_id)
        if run is None:
            self.declined_claims += 1
        else:
            self.claimed += 1
        return run

    async def finish(
        self,
        run: TaskRun,
        result: ActionOutcome,
        delivery: Delivery | None = None,
        *,
        chain: bool = False,
    ) -> bool | TaskRun:
        done = await self.inner.finish(run, result, delivery, chain=chain)
        if isinstance(done, TaskRun):
            self.handed_over += 1
        if done:
            self.finished += 1
        else:
            self.declined_finishes += 1
        return done


async def snapshot(runtime: Runtime, request_id: str) -> dict[str, Any]:
    """What a request left in the database, with its own ids and times taken out."""
    rid = uuid.UUID(request_id)
    async with runtime.sessions() as session:
        request = await session.get(Request, rid)
        assert request is not None
        tasks = (
            await session.scalars(
                select(FulfillmentTask)
                .where(FulfillmentTask.request_id == rid)
                .order_by(FulfillmentTask.position)
            )
        ).all()
        position = {t.id: t.position for t in tasks}
        logs = (
            await session.scalars(
                select(TaskLog).where(TaskLog.request_id == rid).order_by(TaskLog.id)
            )
        ).all()
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.target_id == request_id)
                .order_by(AuditEntry.seq)
            )
        ).all()
    return {
        "request": (
            request.state,
            request.tasks_total,
            request.tasks_completed,
            request.finished_at is not None,
            request.error,
            request.inputs,
            request.secret_fields,
            request.entry_id,
            request.definition,
        ),
        "tasks": [
            (
                t.position,
                t.state,
                t.attempts,
                t.outputs,
                {k: position.get(uuid.UUID(v), v) for k, v in t.external_refs.items()},
                t.error,
                t.queued_at is not None,
                t.started_at is not None,
                t.finished_at is not None,
                t.config,
                t.inputs,
            )
            for t in tasks
        ],
        "logs": [(position.get(line.task_id), line.level, line.message) for line in logs],
        "audit": [
            (
                e.action,
                e.actor_type,
                e.actor_name,
                e.team_id,
                e.before,
                e.after,
                e.correlation_id == request.correlation_id,
            )
            for e in entries
        ],
    }


@pytest.fixture
def postgres(synced: Runtime) -> Runtime:
    if synced.engine.dialect.name != "postgresql":
        pytest.skip("the hot paths are PostgreSQL's; SQLite takes the ORM paths")
    return synced


async def test_a_request_carried_out_by_the_hot_paths_leaves_what_the_orm_paths_leave(
    postgres: Runtime, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = CountingFastPath(fast_path_for(postgres, queue_for(postgres, TASK_QUEUE), 1))  # type: ignore[arg-type]
    hot = await submit(api)
    assert await drain(postgres, FakeActions(), fast=fast) == [Outcome.COMPLETED, Outcome.COMPLETED]
    assert (fast.claimed, fast.finished, fast.declined_claims, fast.declined_finishes) == (
        2,
        2,
        0,
        0,
    )

    monkeypatch.setattr(service, "raw_submission", lambda session, submission: False)
    orm = await submit(api)
    assert await drain(postgres, FakeActions(), fast=None) == [Outcome.COMPLETED, Outcome.COMPLETED]

    hot_rows, orm_rows = await snapshot(postgres, hot), await snapshot(postgres, orm)
    assert hot_rows["request"][0] == "completed"
    assert hot_rows == orm_rows
    # Every entry, the worker's too, carries the request's correlation id.
    assert [entry[-1] for entry in hot_rows["audit"]] == [True] * 3
    async with postgres.sessions() as session:
        org_id = (await session.get(Request, uuid.UUID(hot))).org_id  # type: ignore[union-attr]
        count, problems = await audit.verify(session, org_id)
    assert problems == [] and count >= 6


async def test_a_failure_is_left_to_the_orm_path_and_a_retry_returns_to_the_hot_path(
    postgres: Runtime, api: httpx.AsyncClient
) -> None:
    fast = CountingFastPath(fast_path_for(postgres, queue_for(postgres, TASK_QUEUE), 1))  # type: ignore[arg-type]
    results = {}
    for path in (fast, None):
        request_id = await submit(api)
        outcomes = await drain(postgres, FakeActions(fail={"DBA"}), fast=path)
        assert outcomes == [Outcome.COMPLETED, Outcome.FAILED]
        assert (await api.post(f"/api/v1/requests/{request_id}/retry")).status_code == 200
        assert await drain(postgres, FakeActions(), fast=path) == [Outcome.COMPLETED]
        results[path is fast] = request_id
    # The failed finish went to the ORM path; the retried task (retrying -> processing) and
    # its completion came back to the hot path.
    assert (fast.claimed, fast.finished, fast.declined_finishes) == (3, 2, 1)
    hot, orm = results[True], results[False]
    hot_rows, orm_rows = await snapshot(postgres, hot), await snapshot(postgres, orm)
    assert [t[1] for t in hot_rows["tasks"]] == ["completed", "completed"]
    assert hot_rows == orm_rows


async def test_an_aborted_request_is_declined_and_skipped_by_the_orm_path(
    postgres: Runtime, api: httpx.AsyncClient
) -> None:
    fast = CountingFastPath(fast_path_for(postgres, queue_for(postgres, TASK_QUEUE), 1))  # type: ignore[arg-type]
    request_id = await submit(api)
    await api.post(f"/api/v1/requests/{request_id}/abort")
    actions = FakeActions()
    assert await drain(postgres, actions, fast=fast) == [Outcome.DUPLICATE]
    assert actions.runs == [] and fast.declined_claims == 1 and fast.claimed == 0


async def test_the_hot_finish_deletes_the_message_in_its_own_transaction(
    postgres: Runtime, api: httpx.AsyncClient
) -> None:
    queue = queue_for(postgres, TASK_QUEUE)
    fast = fast_path_for(postgres, queue, 1)
    key = derive_key(postgres.settings.secret_key.get_secret_value())
    request_id = await submit(api)

    async def run(message: Any, delivery: Delivery) -> Outcome:
        return await run_task(
            postgres.sessions,
            message.body,
            receive_count=message.receive_count,
            max_receives=3,
            secrets_key=key,
            execute=FakeActions(),
            enqueue=enqueue_for(postgres),
            timeout_seconds=30,
            fast=fast,
            delivery=delivery,
        )

    [first] = await queue.receive(1, 30.0)
    delivery = Delivery(first.receipt)
    assert await run(first, delivery) == Outcome.COMPLETED and delivery.acked
    # The first message is gone and the second task's message is the group's head now.
    [second] = await queue.receive(1, 30.0)
    assert second.body["task_id"] != first.body["task_id"]
    # A receipt that is no longer current (the message came back to another consumer) is
    # left alone; the task is completed all the same.
    stale = Delivery(second.receipt + "-not-current")
    assert await run(second, stale) == Outcome.COMPLETED and not stale.acked
    assert (await api.get(f"/api/v1/requests/{request_id}")).json()["state"] == "completed"
    await queue.delete(second.receipt)
    assert await queue.receive(1, 30.0) == []


async def test_a_request_handed_over_task_to_task_leaves_what_the_orm_paths_leave(
    postgres: Runtime, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = queue_for(postgres, TASK_QUEUE)
    fast = CountingFastPath(fast_path_for(postgres, queue, 1))  # type: ignore[arg-type]
    processed_before = sum((await queue.stats()).processed_by_minute)
    hot = await submit(api)
    # One delivery carries out both tasks: the second is claimed as the first completes.
    assert await drain(postgres, FakeActions(), fast=fast, chain=True) == [Outcome.COMPLETED]
    assert (fast.claimed, fast.finished, fast.handed_over, fast.declined_finishes) == (1, 2, 1, 0)
    # Both tasks count as processed messages, as two deliveries would.
    assert sum((await queue.stats()).processed_by_minute) - processed_before == 2

    monkeypatch.setattr(service, "raw_submission", lambda session, submission: False)
    orm = await submit(api)
    assert await drain(postgres, FakeActions(), fast=None) == [Outcome.COMPLETED] * 2
    hot_rows, orm_rows = await snapshot(postgres, hot), await snapshot(postgres, orm)
    assert hot_rows["request"][0] == "completed"
    assert hot_rows == orm_rows
    async with postgres.sessions() as session:
        org_id = (await session.get(Request, uuid.UUID(hot))).org_id  # type: ignore[union-attr]
        _count, problems = await audit.verify(session, org_id)
    assert problems == []


async def test_the_next_task_sees_the_outputs_of_the_one_handed_over_from(
    postgres: Runtime, api: httpx.AsyncClient
) -> None:
    await submit(api)
    actions = FakeActions()
    await drain(postgres, actions, chain=True)
    first, second = actions.runs
    assert second.outputs_so_far == {"url": "rest-api-1"}
    assert second.earlier_refs == [{"id": str(first.task_id)}]
    assert second.attempt == 1 and not second.redelivered
    assert (second.correlation_id, second.requester) == (first.correlation_id, first.requester)


async def test_no_hand_over_past_the_chain_limit_or_when_the_group_holds_more(
    postgres: Runtime, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loom.workers import runner

    queue = queue_for(postgres, TASK_QUEUE)
    fast = CountingFastPath(fast_path_for(postgres, queue, 1))  # type: ignore[arg-type]
    monkeypatch.setattr(runner, "CHAIN_LIMIT", 1)
    await submit(api)
    assert await drain(postgres, FakeActions(), fast=fast, chain=True) == [Outcome.COMPLETED] * 2
    assert fast.handed_over == 0
    monkeypatch.undo()

    # Another message waits in the request's group: the next task goes behind it, in order.
    request_id = await submit(api)
    await queue.send(request_id, {"request_id": request_id, "task_id": str(uuid.uuid4())})
    outcomes = await drain(postgres, FakeActions(), fast=fast, chain=True)
    assert outcomes == [Outcome.COMPLETED, Outcome.DUPLICATE, Outcome.COMPLETED]
    assert fast.handed_over == 0


async def test_a_claim_reads_what_was_committed_while_it_waited_for_the_request_lock(
    postgres: Runtime, api: httpx.AsyncClient
) -> None:
    import asyncio

    from loom.provisioning.states import TaskState
    from loom.provisioning.transitions import lock_request

    fast = fast_path_for(postgres, queue_for(postgres, TASK_QUEUE), 1)
    assert fast is not None
    request_id = uuid.UUID(await submit(api))
    async with postgres.sessions() as session, session.begin():
        request = await lock_request(session, request_id)
        first = request.tasks[0]
        claim = asyncio.create_task(fast.claim(request_id, first.id))
        await asyncio.sleep(0.3)
        assert not claim.done()  # it waits for the lock this transaction holds
        # Another writer changes only the task (the request row stays as it was).
        first.state = TaskState.SKIPPED
    # The claim's read started after the lock was granted: it sees the task skipped and
    # leaves it alone, instead of running a task another writer settled.
    assert await claim is None
    async with postgres.sessions() as session:
        task = await session.get(FulfillmentTask, first.id)
        assert task is not None and task.state == TaskState.SKIPPED and task.attempts == 0
