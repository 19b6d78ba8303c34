"""API shapes of the queue: stats, listed messages and dead letters. Bodies carry ids
only; they are still masked (`mask_secrets`) on the way out, in case one ever does not."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from loom.audit.masking import mask_secrets
from loom.queue.protocol import DeadLetter, MessageInfo, MessageState, QueueStats


class QueueStatsOut(BaseModel):
    queue: str
    depth: int
    visible: int
    in_flight: int
    delayed: int
    oldest_age_seconds: float | None
    processed_per_minute: float
    processed_by_minute: list[int]
    dlq_depth: int

    @classmethod
    def of(cls, queue: str, stats: QueueStats) -> QueueStatsOut:
        return cls(
            queue=queue,
            depth=stats.depth,
            visible=stats.visible,
            in_flight=stats.in_flight,
            delayed=stats.delayed,
            oldest_age_seconds=stats.oldest_age_seconds,
            processed_per_minute=stats.processed_per_minute,
            processed_by_minute=stats.processed_by_minute,
            dlq_depth=stats.dlq_depth,
        )


class QueueMessageOut(BaseModel):
    id: str
    group_id: str
    state: MessageState
    receive_count: int
    sent_at: datetime
    visible_at: datetime | None
    body: dict[str, Any]

    @classmethod
    def of(cls, message: MessageInfo) -> QueueMessageOut:
        return cls(
            id=message.id,
            group_id=message.group_id,
            state=message.state,
            receive_count=message.receive_count,
            sent_at=message.sent_at,
            visible_at=message.visible_at,
            body=mask_secrets(message.body),
        )


class DeadLetterOut(BaseModel):
    id: str
    group_id: str
    receive_count: int
    sent_at: datetime
    dead_at: datetime | None
    body: dict[str, Any]

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterOut:
        return cls(
            id=letter.id,
            group_id=letter.group_id,
            receive_count=letter.receive_count,
            sent_at=letter.sent_at,
            dead_at=letter.dead_at,
            body=mask_secrets(letter.body),
        )


class RedriveResult(BaseModel):
    id: str
    queue: str
    redriven: bool = True
