"""The task queue, for org admins: stats, waiting messages, dead letters and redrive.

Every call takes `queue` (default "tasks"), one of the server's `settings.queue.names`.
Listing messages of an SQS queue is not supported: the server answers 501.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

from loom.client.base import HttpCore
from loom.client.models import ApiModel
from loom.client.pagination import Page, iterate

DEFAULT_QUEUE = "tasks"


class QueueStats(ApiModel):
    queue: str
    depth: int
    visible: int
    in_flight: int
    delayed: int
    oldest_age_seconds: float | None = None
    processed_per_minute: float = 0.0
    processed_by_minute: list[int] = []
    dlq_depth: int = 0


class QueueMessage(ApiModel):
    id: str
    group_id: str
    state: str
    receive_count: int
    sent_at: datetime
    visible_at: datetime | None = None
    body: dict[str, Any] = {}


class DeadLetter(ApiModel):
    id: str
    group_id: str
    receive_count: int
    sent_at: datetime
    dead_at: datetime | None = None
    body: dict[str, Any] = {}


class RedriveResult(ApiModel):
    id: str
    queue: str
    redriven: bool = True


class QueueApi:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def stats(self, queue: str = DEFAULT_QUEUE) -> QueueStats:
        return self._core.get("/queue/stats", QueueStats, params={"queue": queue})

    def messages(
        self,
        queue: str = DEFAULT_QUEUE,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[QueueMessage]:
        """One page of waiting and in-flight messages, in delivery order."""
        params = {"queue": queue, "limit": limit, "cursor": cursor}
        return self._core.get("/queue/messages", Page[QueueMessage], params=params)

    def group(
        self,
        group_id: str,
        queue: str = DEFAULT_QUEUE,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[QueueMessage]:
        """One page of a group's messages, its head first."""
        params = {"queue": queue, "limit": limit, "cursor": cursor}
        path = f"/queue/messages/{quote(group_id, safe='')}"
        return self._core.get(path, Page[QueueMessage], params=params)

    def iter_messages(
        self, queue: str = DEFAULT_QUEUE, *, group_id: str | None = None, page_size: int = 100
    ) -> Iterator[QueueMessage]:
        """Every message (of one group when given), fetching pages as they are consumed."""
        if group_id is not None:
            gid = group_id
            return iterate(lambda c: self.group(gid, queue, limit=page_size, cursor=c))
        return iterate(lambda c: self.messages(queue, limit=page_size, cursor=c))

    def dlq(
        self,
        queue: str = DEFAULT_QUEUE,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[DeadLetter]:
        """One page of the dead-letter queue, oldest first."""
        params = {"queue": queue, "limit": limit, "cursor": cursor}
        return self._core.get("/queue/dlq/messages", Page[DeadLetter], params=params)

    def iter_dlq(self, queue: str = DEFAULT_QUEUE, *, page_size: int = 100) -> Iterator[DeadLetter]:
        return iterate(lambda c: self.dlq(queue, limit=page_size, cursor=c))

    def redrive(self, message_id: str, queue: str = DEFAULT_QUEUE) -> RedriveResult:
        """Put a dead letter back at the tail of its group, its receive count reset."""
        path = f"/queue/dlq/{quote(message_id, safe='')}/redrive"
        return self._core.post(path, RedriveResult, params={"queue": queue})
