"""Starting and stopping the worker pool of a process (`loom serve` or `loom worker`),
and the consumers of the notifications queue with it."""

from __future__ import annotations

from loom.notify.consumer import start_consumers, stop_consumers
from loom.platform.runtime import Runtime
from loom.provisioning.dispatch import TASK_QUEUE, enqueue_for
from loom.queue.factory import queue_for
from loom.workers import (  # noqa: F401 - register their periodic jobs
    dead_letters,
    wait_checks,
)
from loom.workers.execute import executor_for_runtime
from loom.workers.pool import WorkerPool


def start_workers(runtime: Runtime) -> WorkerPool | None:
    settings = runtime.settings.workers
    if not settings.enabled:
        return None
    pool = WorkerPool(
        runtime,
        queue_for(runtime, TASK_QUEUE),
        executor_for_runtime(runtime),
        enqueue_for(runtime),
        concurrency=settings.concurrency,
        visibility_timeout=settings.visibility_timeout_seconds,
        task_timeout=settings.task_timeout_seconds,
        poll_interval=settings.poll_interval_seconds,
    )
    pool.start()
    runtime.extras["worker_pool"] = pool
    start_consumers(runtime)
    return pool


async def stop_workers(runtime: Runtime) -> None:
    await stop_consumers(runtime)
    pool: WorkerPool | None = runtime.extras.pop("worker_pool", None)
    if pool is not None:
        await pool.stop(runtime.settings.server.graceful_timeout_seconds)
