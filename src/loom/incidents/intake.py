"""Group commit for alert batches: concurrent deliveries of one organisation are stored
and grouped together, in one transaction under one hold of its alert lock.

Grouping is serialised per organisation (`pipeline.lock_alerts`), so during an alert
storm every request would queue for the lock and pay for its own round trips, reads of
the open incidents and graph walk. Instead, a request hands its parsed batch to the
process's `Intake` and waits: while one transaction runs, the batches that arrive queue
up and are taken together by the next one. Each request still answers only once its
alerts are committed and grouped, with the incidents its own alerts are in. A combined
transaction that fails is retried batch by batch, so one bad batch fails alone.
"""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from collections import deque
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loom.db.types import utcnow
from loom.incidents.alerts import Delivery, IngestSummary, ingest_many
from loom.platform.runtime import Runtime
from loom.settings import IncidentSettings

log = structlog.get_logger(__name__)

EXTRAS_KEY = "alert_intake"


@dataclass
class _Waiting:
    delivery: Delivery
    answer: asyncio.Future[IngestSummary]


class Intake:
    """Per organisation, a queue of deliveries and at most one task draining it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: IncidentSettings,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._queues: dict[uuid.UUID, deque[_Waiting]] = {}
        self._draining: dict[uuid.UUID, asyncio.Task[None]] = {}

    async def submit(self, org_id: uuid.UUID, delivery: Delivery) -> IngestSummary:
        """Store and group `delivery`; returns once it is committed."""
        answer: asyncio.Future[IngestSummary] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(org_id, deque()).append(_Waiting(delivery, answer))
        if org_id not in self._draining:
            # A fresh context: the drain outlives the request that happened to start it,
            # and serves others, so it must not carry that request's log context.
            task = asyncio.create_task(self._drain(org_id), context=contextvars.Context())
            self._draining[org_id] = task
        # Shielded: a sender that hangs up does not cancel a transaction others wait on.
        return await asyncio.shield(answer)

    async def _drain(self, org_id: uuid.UUID) -> None:
        queue = self._queues[org_id]
        try:
            while queue:
                await self._commit(org_id, self._take(queue))
        except BaseException:  # cancelled at shutdown: nobody waits forever
            while queue:
                _answer(queue.popleft(), error=RuntimeError("alert intake stopped"))
            raise
        finally:
            del self._draining[org_id]
            if not queue:
                del self._queues[org_id]

    def _take(self, queue: deque[_Waiting]) -> list[_Waiting]:
        """The waiting deliveries, oldest first, up to `max_batch_alerts` alerts in all
        (always at least one)."""
        taken = [queue.popleft()]
        size = len(taken[0].delivery.items)
        while queue and size + len(queue[0].delivery.items) <= self._settings.max_batch_alerts:
            size += len(queue[0].delivery.items)
            taken.append(queue.popleft())
        return taken

    async def _commit(self, org_id: uuid.UUID, waiting: list[_Waiting]) -> None:
        try:
            summaries = await self._transaction(org_id, [w.delivery for w in waiting])
        except Exception as error:
            if len(waiting) == 1:
                _answer(waiting[0], error=error)
                return
            log.warning("alert_batches_retried_alone", batches=len(waiting), error=repr(error))
            for one in waiting:
                await self._commit(org_id, [one])
            return
        for one, summary in zip(waiting, summaries, strict=True):
            _answer(one, summary=summary)

    async def _transaction(
        self, org_id: uuid.UUID, deliveries: list[Delivery]
    ) -> list[IngestSummary]:
        async with self._sessions() as session, session.begin():
            return await ingest_many(
                session, org_id, deliveries, settings=self._settings, now=utcnow()
            )


def _answer(
    one: _Waiting, *, summary: IngestSummary | None = None, error: Exception | None = None
) -> None:
    if one.answer.done():
        return
    if error is not None:
        one.answer.set_exception(error)
    else:
        assert summary is not None
        one.answer.set_result(summary)


def intake_of(runtime: Runtime) -> Intake:
    """The process's intake, made on first use."""
    intake = runtime.extras.get(EXTRAS_KEY)
    if intake is None:
        intake = runtime.extras[EXTRAS_KEY] = Intake(runtime.sessions, runtime.settings.incidents)
    assert isinstance(intake, Intake)
    return intake
