"""Waiting tasks: a task whose action answers with a wait holds no worker and no queue
group; the leased periodic check completes, fails or times it out; an abort skips it;
the transitions in and out of `waiting` are the only ones allowed."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta

from sqlalchemy import select

from loom.actions.base import ActionFailed
from loom.actions.waits import CheckResult
from loom.db.types import utcnow
from loom.provisioning.dispatch import TASK_QUEUE, enqueue_for
from loom.provisioning.models import TaskWait
from loom.provisioning.states import TASK_TRANSITIONS, TaskState
from loom.queue.factory import queue_for
from loom.secrets.crypto import derive_key
from loom.workers.execute import executor_for_runtime
from loom.workers.runner import ActionOutcome, Outcome, TaskRun, run_task
from loom.workers.wait_checks import check_due
from tests.provisioning.waits_support import Api, Waiter, drain, task_id_of

LATER = timedelta(minutes=2)  # past the fake's 60 s between checks


def test_waiting_is_entered_from_processing_and_left_by_an_end() -> None:
    assert TaskState.WAITING in TASK_TRANSITIONS[TaskState.PROCESSING]
    assert TASK_TRANSITIONS[TaskState.WAITING] == {
        TaskState.COMPLETED,
        TaskState.FAILED,
        TaskState.SKIPPED,
    }
    waits_from = {s for s, nxt in TASK_TRANSITIONS.items() if TaskState.WAITING in nxt}
    assert waits_from == {TaskState.PROCESSING}


async def _wait_row(loom_api: Api, request_id: str) -> TaskWait:
    async with loom_api.runtime.sessions() as s:
        row = await s.scalar(select(TaskWait).where(TaskWait.request_id == uuid.UUID(request_id)))
        assert row is not None
        return row


async def test_a_waiting_task_holds_no_worker_nor_queue_group(
    loom_api: Api, waiter: Waiter
) -> None:
    first = await loom_api.submit("ticketed")
    assert await drain(loom_api.runtime) == [Outcome.WAITING]
    request = await loom_api.detail(first)
    assert request["state"] == "processing"
    assert [t["state"] for t in request["tasks"]] == ["waiting", "pending"]
    assert request["waiting_for"] == "waiting for shop-1 to be done"
    assert request["progress"] == "0 of 2 completed, waiting for shop-1 to be done"
    # What execute produced is kept while it waits.
    assert request["tasks"][0]["outputs"] == {"ticket": "shop-1"}
    assert request["tasks"][0]["external_refs"] == {"ticket": "shop-1"}

    # Its message is gone and nothing else is queued; another request runs meanwhile.
    assert await queue_for(loom_api.runtime, TASK_QUEUE).receive(1, 1.0) == []
    second = await loom_api.submit("ticketed", name="web")
    assert await drain(loom_api.runtime) == [Outcome.WAITING]
    assert (await loom_api.detail(second))["waiting_for"] == "waiting for web-1 to be done"

    waiter.answers["shop-1"] = [CheckResult.done({"resolution": "fixed"}, {"url": "https://t/1"})]
    assert await check_due(loom_api.runtime, utcnow() + LATER) == {"completed": 1, "waiting": 1}
    # The completion queued the next task of the same request (its group was free).
    assert await drain(loom_api.runtime) == [Outcome.COMPLETED]
    done = await loom_api.detail(first)
    assert done["state"] == "completed" and done["waiting_for"] is None
    assert done["outputs"] == {"ticket": "shop-1", "resolution": "fixed", "step": "done shop-1"}
    assert done["tasks"][0]["external_refs"] == {"ticket": "shop-1", "url": "https://t/1"}
    assert (await loom_api.detail(second))["state"] == "processing"
    row = await _wait_row(loom_api, first)
    assert row.outcome == "completed" and row.completed_at is not None


async def test_a_check_only_comes_when_due(loom_api: Api, waiter: Waiter) -> None:
    await loom_api.submit("ticketed")
    await drain(loom_api.runtime)
    assert await check_due(loom_api.runtime) == {}
    assert waiter.checked == []
    assert await check_due(loom_api.runtime, utcnow() + LATER) == {"waiting": 1}
    # Looked at, it is not due again until its next turn.
    assert await check_due(loom_api.runtime, utcnow() + LATER) == {}
    assert waiter.checked == [{"key": "shop-1", "looks": 0}]


async def test_a_failed_check_fails_the_request(loom_api: Api, waiter: Waiter) -> None:
    request_id = await loom_api.submit("ticketed")
    await drain(loom_api.runtime)
    waiter.answers["shop-1"] = [CheckResult.failed("shop-1 was closed as won't do")]
    assert await check_due(loom_api.runtime, utcnow() + LATER) == {"failed": 1}
    request = await loom_api.detail(request_id)
    assert request["state"] == "failed" and request["error"] == "shop-1 was closed as won't do"
    assert [t["state"] for t in request["tasks"]] == ["failed", "pending"]
    assert request["waiting_for"] is None
    assert await drain(loom_api.runtime) == []  # nothing queued: a person decides


async def test_check_errors_keep_it_waiting_and_are_logged_once_each(
    loom_api: Api, waiter: Waiter
) -> None:
    request_id = await loom_api.submit("ticketed")
    await drain(loom_api.runtime)
    waiter.answers["shop-1"] = [
        ActionFailed("JIRA answered 503"),
        ActionFailed("JIRA answered 503"),
        RuntimeError("boom"),
        ActionFailed("JIRA answered 503"),
        CheckResult.waiting("shop-1 is In Progress", {"key": "shop-1", "looks": 3}),
    ]
    now = utcnow()
    for turn in range(1, 7):
        assert await check_due(loom_api.runtime, now + LATER * turn) == {"waiting": 1}
    request = await loom_api.detail(request_id)
    assert request["state"] == "processing" and request["tasks"][0]["state"] == "waiting"
    assert request["waiting_for"] == "shop-1 is In Progress"
    logs = await loom_api.logs(request_id)
    assert sum("JIRA answered 503" in line for line in logs) == 1
    assert sum("RuntimeError: boom" in line for line in logs) == 1
    assert "shop-1 is In Progress" in logs
    # The check's new state is what the next check is given.
    assert waiter.checked[-1] == {"key": "shop-1", "looks": 3}


async def test_a_wait_past_its_deadline_fails_with_its_timeout_message(
    loom_api: Api, waiter: Waiter
) -> None:
    request_id = await loom_api.submit("ticketed")
    await drain(loom_api.runtime)
    assert await check_due(loom_api.runtime, utcnow() + timedelta(hours=2)) == {"timed_out": 1}
    request = await loom_api.detail(request_id)
    assert request["state"] == "failed" and request["error"] == "shop-1 was not done in time"
    assert waiter.checked == []  # past the deadline, the remote is not even asked
    assert (await _wait_row(loom_api, request_id)).outcome == "timed_out"


async def test_abort_while_waiting_skips_the_task_and_closes_the_wait(
    loom_api: Api, waiter: Waiter
) -> None:
    request_id = await loom_api.submit("ticketed")
    await drain(loom_api.runtime)
    client = await loom_api.as_("rita@loom.test")
    assert (await client.post(f"/api/v1/requests/{request_id}/abort")).status_code == 200
    request = await loom_api.detail(request_id)
    assert request["state"] == "aborted" and request["waiting_for"] is None
    assert [t["state"] for t in request["tasks"]] == ["skipped", "skipped"]
    row = await _wait_row(loom_api, request_id)
    assert row.outcome == "aborted" and row.completed_at is not None
    assert await check_due(loom_api.runtime, utcnow() + timedelta(hours=2)) == {}
    assert waiter.checked == []


async def test_the_check_holds_no_transaction_while_it_calls_out(
    loom_api: Api, waiter: Waiter
) -> None:
    """A person aborts the request while its check is out asking the remote: the abort
    (which locks the request) goes through, and the check's answer changes nothing."""
    request_id = await loom_api.submit("ticketed")
    await drain(loom_api.runtime)
    client = await loom_api.as_("rita@loom.test")

    async def abort_meanwhile() -> None:
        response = await client.post(f"/api/v1/requests/{request_id}/abort")
        assert response.status_code == 200

    waiter.during_check = abort_meanwhile
    waiter.answers["shop-1"] = [CheckResult.done({"resolution": "fixed"})]
    outcomes = await asyncio.wait_for(check_due(loom_api.runtime, utcnow() + LATER), timeout=20)
    assert outcomes == {"gone": 1}
    request = await loom_api.detail(request_id)
    assert request["state"] == "aborted" and request["tasks"][0]["state"] == "skipped"


async def test_a_duplicate_message_for_a_waiting_task_runs_nothing(
    loom_api: Api, waiter: Waiter
) -> None:
    request_id = await loom_api.submit("ticketed")
    await drain(loom_api.runtime)
    task_id = task_id_of(await loom_api.detail(request_id), 0)
    body = {"request_id": request_id, "task_id": str(task_id)}

    async def must_not_run(run: TaskRun) -> ActionOutcome:
        raise AssertionError("ran a waiting task again")

    outcome = await run_task(
        loom_api.runtime.sessions, body, receive_count=2, max_receives=3,
        secrets_key=derive_key(loom_api.runtime.settings.secret_key.get_secret_value()),
        execute=must_not_run, enqueue=enqueue_for(loom_api.runtime), timeout_seconds=5,
    )  # fmt: skip
    assert outcome is Outcome.DUPLICATE
    assert (await loom_api.detail(request_id))["tasks"][0]["state"] == "waiting"


async def test_a_reconcile_that_finds_a_waiting_effect_waits_again(
    loom_api: Api, waiter: Waiter
) -> None:
    """The worker died after opening the ticket: the redelivered task's reconcile finds
    the ticket and the task waits for it, without opening another."""
    request_id = await loom_api.submit("ticketed")
    queue = queue_for(loom_api.runtime, TASK_QUEUE)
    [message] = await queue.receive(1, 30.0)
    key = derive_key(loom_api.runtime.settings.secret_key.get_secret_value())

    async def dies(run: TaskRun) -> ActionOutcome:
        raise asyncio.CancelledError  # the process died mid-action

    with contextlib.suppress(asyncio.CancelledError):
        await run_task(
            loom_api.runtime.sessions, message.body, receive_count=1, max_receives=3,
            secrets_key=key, execute=dies, enqueue=enqueue_for(loom_api.runtime),
            timeout_seconds=5,
        )  # fmt: skip
    waiter.reconcile_finds = True
    await queue.delete(message.receipt)
    outcome = await run_task(
        loom_api.runtime.sessions, message.body, receive_count=2, max_receives=3, secrets_key=key,
        execute=executor_for_runtime(loom_api.runtime), enqueue=enqueue_for(loom_api.runtime),
        timeout_seconds=5,
    )  # fmt: skip
    assert outcome is Outcome.WAITING
    request = await loom_api.detail(request_id)
    assert request["tasks"][0]["state"] == "waiting" and request["tasks"][0]["attempts"] == 2
    assert "found the effect of the earlier attempt: not running again" in await loom_api.logs(
        request_id
    )
