"""Consumers of the `notifications` queue, run wherever the workers run (`loom serve`,
`loom worker`), beside the dispatcher that turns incident events into deliveries
(`outbox`). Each consumer takes a message, makes the attempt it describes
(`delivery.attempt`), commits the log row (and the next attempt's message, on the sql
backend, in the same transaction), then deletes the message. A message whose processing
crashed stays undeleted: it comes back after its visibility timeout, and after three
deliveries lands in the queue's dead-letter queue. An attempt already logged is not made
again (the crash came after its commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.db.types import utcnow
from loom.incidents.models import Incident
from loom.notify import consolidation, delivery, escalation, outbox, request_outbox
from loom.notify.message import IncidentMessage, NotifyEvent
from loom.notify.models import Notification
from loom.platform.http import http_clients
from loom.platform.runtime import Runtime
from loom.queue.factory import queue_for
from loom.queue.protocol import Message
from loom.secrets.crypto import derive_key

log = structlog.get_logger("loom.notify")

EXTRAS_KEY = "notify_consumers"
#: Hosts this process's notifications may reach besides `allowed_hosts` (the demo's fakes).
EXTRA_HOSTS_KEY = "notify_hosts"
VISIBILITY_SECONDS = 60.0


class NotifyConsumers:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings.notify
        self.queue = queue_for(runtime, delivery.NOTIFY_QUEUE)
        self.key = derive_key(runtime.settings.secret_key.get_secret_value())
        self.backoff = delivery.Backoff(
            attempts=self.settings.max_attempts, base=self.settings.backoff_base_seconds,
            cap=self.settings.backoff_cap_seconds,
        )  # fmt: skip
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Events this process dispatched lately (see `outbox.dispatch`).
        self._seen: dict[uuid.UUID, datetime] = {}
        self._requests_seen: dict[uuid.UUID, datetime] = {}

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._consume(), name="loom-notify-receive"),
            asyncio.create_task(self._dispatch(), name="loom-notify-dispatch"),
        ]

    async def stop(self, grace_seconds: float) -> None:
        """Stop receiving; attempts in progress finish for up to `grace_seconds` (the
        rest are cancelled: their messages come back)."""
        self._stopping.set()
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(self._tasks, timeout=grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _consume(self) -> None:
        """One receiver (one query per poll, not one per consumer), up to `concurrency`
        attempts at a time."""
        running: set[asyncio.Task[None]] = set()
        try:
            while not self._stopping.is_set():
                free = self.settings.concurrency - len(running)
                if free <= 0:
                    await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    continue
                try:
                    messages = await self.queue.receive(free, VISIBILITY_SECONDS)
                except Exception:
                    log.exception("receiving from the notifications queue failed")
                    messages = []
                for message in messages:
                    task = asyncio.create_task(self.process(message))
                    running.add(task)
                    task.add_done_callback(running.discard)
                if not messages:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._stopping.wait(), self.settings.poll_interval_seconds
                        )
        finally:
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _dispatch(self) -> None:
        """Turn incident events into deliveries, a pass every `poll_interval_seconds`
        (replicas serialise on the outbox cursor's row)."""
        while not self._stopping.is_set():
            try:
                await self.dispatch_once()
            except Exception:
                log.exception("dispatching notifications failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.poll_interval_seconds)

    async def dispatch_once(self) -> int:
        """One pass of the dispatcher over the incidents' timeline (`outbox.dispatch`) and
        the requests' events (`request_outbox`), each committed; deliveries queued."""
        portal = self.runtime.settings.server.public_url or "http://127.0.0.1:8080"
        async with self.runtime.sessions() as session, session.begin():
            done = await outbox.dispatch(
                session, self.queue, portal_url=portal, now=utcnow(), seen=self._seen,
                consolidate_seconds=self.settings.consolidate_seconds,
            )  # fmt: skip
        done.remember(self._seen)
        requests = await request_outbox.run(
            self.runtime.sessions, self.queue, portal_url=portal, seen=self._requests_seen
        )
        return done.queued + requests

    async def _timer(self, message: Message) -> None:
        portal = self.runtime.settings.server.public_url or "http://127.0.0.1:8080"

        async def message_for(incident: Incident) -> IncidentMessage:
            return await outbox.incident_message(
                session, incident, NotifyEvent.OPENED, utcnow(), portal
            )

        try:
            async with self.runtime.sessions() as session, session.begin():
                await escalation.fire(session, self.queue, message.body, utcnow(), message_for)
        except Exception:
            log.exception("escalation timer failed", message_id=message.id)
            return
        with contextlib.suppress(Exception):
            await self.queue.delete(message.receipt)

    async def _consolidation(self, message: Message) -> None:
        """A consolidation window's end: queue the incident's updates."""
        portal = self.runtime.settings.server.public_url or "http://127.0.0.1:8080"

        async def message_for(incident: Incident) -> IncidentMessage | None:
            return await outbox.update_message(session, incident, utcnow(), portal)

        try:
            async with self.runtime.sessions() as session, session.begin():
                await consolidation.fire(session, self.queue, message.body, message_for)
        except Exception:
            log.exception("consolidation timer failed", message_id=message.id)
            return
        with contextlib.suppress(Exception):
            await self.queue.delete(message.receipt)

    async def _rebuilt(self, session: AsyncSession, message: IncidentMessage) -> IncidentMessage:
        """An update as the incident is now (it may have waited behind a retry)."""
        incident = await session.get(Incident, uuid.UUID(message.incident_id))
        if incident is None:
            return message
        portal = self.runtime.settings.server.public_url or "http://127.0.0.1:8080"
        return await outbox.incident_message(
            session, incident, NotifyEvent.UPDATED, utcnow(), portal
        )

    async def process(self, message: Message) -> None:
        """One attempt (or an escalation level's or a consolidation window's timer); the
        message is deleted once its outcome is committed."""
        if message.body.get("type") == escalation.TIMER:
            await self._timer(message)
            return
        if message.body.get("type") == consolidation.TIMER:
            await self._consolidation(message)
            return
        row = None
        try:
            async with self.runtime.sessions() as session, session.begin():
                if not await _done_before(session, message.body):
                    row = await delivery.attempt(
                        session, self.queue, http_clients(self.runtime), self.key,
                        message.body, backoff=self.backoff,
                        extra_hosts=self.runtime.extras.get(EXTRA_HOSTS_KEY, ()),
                        rebuild=lambda m: self._rebuilt(session, m),
                    )  # fmt: skip
        except Exception:
            log.exception("notification processing failed", message_id=message.id)
            return
        if row is not None:
            log.info("notification attempt", channel=row.channel_name, status=row.status,
                     attempt=row.attempt, notified=row.event)  # fmt: skip
        try:
            await self.queue.delete(message.receipt)
        except Exception:
            log.warning("could not delete a notification message", message_id=message.id)


async def _done_before(session: AsyncSession, body: dict[str, Any]) -> bool:
    found = await session.scalar(
        select(Notification.id).where(
            Notification.delivery_id == uuid.UUID(body["delivery_id"]),
            Notification.attempt == int(body["attempt"]),
        )
    )
    return found is not None


def start_consumers(runtime: Runtime) -> NotifyConsumers | None:
    if not runtime.settings.workers.enabled:
        return None
    consumers = runtime.extras[EXTRAS_KEY] = NotifyConsumers(runtime)
    consumers.start()
    return consumers


async def stop_consumers(runtime: Runtime) -> None:
    consumers: NotifyConsumers | None = runtime.extras.pop(EXTRAS_KEY, None)
    if consumers is not None:
        await consumers.stop(runtime.settings.server.graceful_timeout_seconds)
