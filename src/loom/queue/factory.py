"""Choosing a queue backend from settings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loom.platform.runtime import Runtime
from loom.queue.protocol import Queue
from loom.settings import Settings


def create_queue(
    settings: Settings,
    runtime_or_sessions: Runtime | async_sessionmaker[AsyncSession],
    name: str,
) -> Queue:
    """The queue `name` on the backend `settings.queue.backend` names.

    `sql` needs the database sessions (a Runtime or its sessionmaker); `sqs` needs a URL
    pair for `name` in `settings.queue.sqs_queues` and imports boto3 only when chosen.
    """
    if settings.queue.backend == "sqs":
        from loom.queue.sqs import SqsQueue

        return SqsQueue.from_settings(settings.queue, name)
    from loom.queue.sql import SqlQueue

    sessions = (
        runtime_or_sessions.sessions
        if isinstance(runtime_or_sessions, Runtime)
        else runtime_or_sessions
    )
    return SqlQueue(sessions, name)


def queue_for(runtime: Runtime, name: str) -> Queue:
    """The process's one `Queue` object for `name` (built on first use, kept in the
    runtime, so its housekeeping state and SQS client are shared)."""
    queues: dict[str, Queue] = runtime.extras.setdefault("queues", {})
    if name not in queues:
        queues[name] = create_queue(runtime.settings, runtime, name)
    return queues[name]
