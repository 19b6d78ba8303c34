"""A task whose message was dead-lettered (received three times, never deleted: its
worker died each time) is marked stuck by the periodic sweep and its request fails, so
that a person sees it; a retry queues it afresh and the old dead letter no longer counts."""

from __future__ import annotations

import httpx

from loom.platform.runtime import Runtime
from loom.provisioning.dispatch import TASK_QUEUE, enqueue_for
from loom.queue.factory import queue_for
from loom.secrets.crypto import derive_key
from loom.workers.dead_letters import sweep
from loom.workers.runner import Outcome, run_task
from tests.workers.test_runner import FakeActions, detail, drain, submit


async def dead_letter_the_head(runtime: Runtime) -> None:
    """Deliver the queue's head three times without deleting it, as dying workers do."""
    queue = queue_for(runtime, TASK_QUEUE)
    for _ in range(3):
        assert len(await queue.receive(1, 0.0)) == 1
    assert await queue.receive(1, 0.0) == []  # the fourth time it goes to the dead letters
    assert len((await queue.dlq_list()).items) >= 1


async def test_a_dead_lettered_first_task_fails_its_submitted_request(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    request_id = await submit(api)
    await dead_letter_the_head(synced)
    assert (await detail(api, request_id))["state"] == "submitted"  # hangs until the sweep

    assert await sweep(synced) == 1
    failed = await detail(api, request_id)
    assert failed["state"] == "failed" and failed["error"].endswith(" stuck")
    assert [t["state"] for t in failed["tasks"]] == ["stuck", "pending"]
    logs = [
        line["message"] for line in (await api.get(f"/api/v1/requests/{request_id}/logs")).json()
    ]
    assert any("dead-letter queue after 3 deliveries" in m for m in logs)
    assert await sweep(synced) == 0  # once only

    # A retry queues the task afresh: the old dead letter no longer counts, and it runs.
    assert (await api.post(f"/api/v1/requests/{request_id}/retry")).status_code == 200
    assert await sweep(synced) == 0
    assert await drain(synced, FakeActions()) == [Outcome.COMPLETED, Outcome.COMPLETED]
    assert (await detail(api, request_id))["state"] == "completed"


async def test_a_dead_lettered_later_task_fails_its_processing_request(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    request_id = await submit(api)
    queue = queue_for(synced, TASK_QUEUE)
    [first] = await queue.receive(1, 30.0)
    outcome = await run_task(
        synced.sessions, first.body, receive_count=1, max_receives=3,
        secrets_key=derive_key(synced.settings.secret_key.get_secret_value()),
        execute=FakeActions(), enqueue=enqueue_for(synced), timeout_seconds=30,
    )  # fmt: skip
    assert outcome is Outcome.COMPLETED
    await queue.delete(first.receipt)
    await dead_letter_the_head(synced)

    assert await sweep(synced) == 1
    failed = await detail(api, request_id)
    assert failed["state"] == "failed"
    assert [t["state"] for t in failed["tasks"]] == ["completed", "stuck"]
