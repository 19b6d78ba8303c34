"""The worker pool: N concurrent consumers of the task queue, each extending its
message's visibility while the task runs, stopping gracefully (no new messages; running
tasks finish within the grace period; the rest are redelivered to another worker)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from loom.platform.runtime import Runtime
from loom.provisioning.service import Enqueue
from loom.queue.protocol import MAX_RECEIVES, Message, Queue
from loom.secrets.crypto import derive_key
from loom.workers.fast_path import fast_path_for
from loom.workers.runner import Delivery, Execute, run_task

log = structlog.get_logger("loom.worker")


class WorkerPool:
    def __init__(
        self,
        runtime: Runtime,
        queue: Queue,
        execute: Execute,
        enqueue: Enqueue,
        *,
        concurrency: int,
        visibility_timeout: float = 60.0,
        task_timeout: float = 300.0,
        poll_interval: float = 0.5,
    ) -> None:
        self.runtime = runtime
        self.queue = queue
        self.execute = execute
        self.enqueue = enqueue
        self.concurrency = concurrency
        self.visibility_timeout = visibility_timeout
        self.task_timeout = task_timeout
        self.poll_interval = poll_interval
        self.fast = fast_path_for(runtime, queue, concurrency, visibility_timeout)
        self.secrets_key = derive_key(runtime.settings.secret_key.get_secret_value())
        self._stopping = asyncio.Event()
        self._consumers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._consumers = [
            asyncio.create_task(self._consume(i), name=f"loom-worker-{i}")
            for i in range(self.concurrency)
        ]
        self.runtime.beat("workers")

    async def stop(self, grace_seconds: float) -> None:
        """Stop receiving; let running tasks finish for up to `grace_seconds`."""
        self._stopping.set()
        if not self._consumers:
            return
        _done, pending = await asyncio.wait(self._consumers, timeout=grace_seconds)
        for task in pending:  # their messages become visible again: nothing is lost
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self.runtime.heartbeats.pop("workers", None)

    async def _consume(self, index: int) -> None:
        while not self._stopping.is_set():
            self.runtime.beat("workers")
            try:
                messages = await self.queue.receive(1, self.visibility_timeout)
            except Exception:
                log.exception("receiving from the task queue failed", consumer=index)
                messages = []
            if not messages:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.poll_interval)
                continue
            await self._process(messages[0])

    async def _process(self, message: Message) -> None:
        heartbeat = asyncio.create_task(self._keep_invisible(message))
        delivery = Delivery(message.receipt)
        try:
            outcome = await run_task(
                self.runtime.sessions, message.body, receive_count=message.receive_count,
                max_receives=MAX_RECEIVES, secrets_key=self.secrets_key, execute=self.execute,
                enqueue=self.enqueue, timeout_seconds=self.task_timeout, fast=self.fast,
                delivery=delivery, may_chain=self._may_chain,
            )  # fmt: skip
        except Exception:
            # Left undeleted: it comes back after its visibility timeout (and, if this
            # keeps happening, ends in the dead-letter queue for a person to look at).
            log.exception("task processing failed", message_id=message.id)
            return
        finally:
            heartbeat.cancel()
        if not delivery.acked:
            try:
                await self.queue.delete(message.receipt)
            except Exception:
                # Its next delivery finds the task done and deletes it then.
                log.warning("could not delete the task's message", message_id=message.id,
                            exc_info=True)  # fmt: skip
        log.info("task done", outcome=outcome, message_id=message.id)

    def _may_chain(self) -> bool:
        # Once stopping, a running request's next task goes back to the queue: the grace
        # period is for the task running now, not the rest of its request.
        return not self._stopping.is_set()

    async def _keep_invisible(self, message: Message) -> None:
        while True:
            await asyncio.sleep(self.visibility_timeout / 3)
            try:
                await self.queue.extend(message.receipt, self.visibility_timeout)
            except Exception:
                log.warning("could not extend the message's visibility", message_id=message.id)
                return
