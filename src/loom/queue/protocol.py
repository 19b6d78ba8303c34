"""The `Queue` protocol every backend implements, and the values it trades in.

One `Queue` object is one named queue ("tasks"); several named queues may share a backend.
The semantics are those of an SQS FIFO queue:

* Messages of one group are delivered strictly in send order, and only one message of a
  group is in flight at a time; different groups are processed in parallel.
* A received message stays invisible for its visibility timeout. Deleted within it, it is
  done; otherwise it becomes visible again with its receive count raised. `extend` pushes
  the timeout further (a heartbeat while the work runs).
* A message received `MAX_RECEIVES` times without being deleted moves to the dead-letter
  queue when it would be delivered once more, which unblocks its group. `redrive` puts it
  back at the tail of its group with a fresh receive count.
* A `dedup_id` seen within `DEDUP_WINDOW` of its first send makes the send a no-op (even
  if the first message was already deleted).
* `delay_seconds` delays a message's first visibility; a delayed message at the head of
  its group holds back the messages behind it (timers are delayed messages).
"""

from __future__ import annotations

import builtins
import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

#: Deliveries a message gets before it is dead-lettered (SQS maxReceiveCount).
MAX_RECEIVES = 3
#: How long a deduplication id is remembered after its first send (fixed in SQS).
DEDUP_WINDOW = timedelta(minutes=5)
#: The window of `QueueStats.processed_per_minute`.
RATE_WINDOW_MINUTES = 5

T = TypeVar("T")


class MessageState(enum.StrEnum):
    """Where a waiting message is: receivable (or queued behind its group's head), held by
    a consumer, or not yet due."""

    VISIBLE = "visible"
    IN_FLIGHT = "in_flight"
    DELAYED = "delayed"


@dataclass(frozen=True)
class Message:
    """A delivered message; `receipt` names this delivery for `delete` and `extend`."""

    id: str
    group_id: str
    body: dict[str, Any]
    receipt: str
    receive_count: int
    sent_at: datetime


@dataclass(frozen=True)
class MessageInfo:
    """A waiting or in-flight message as listed for operators."""

    id: str
    group_id: str
    body: dict[str, Any]
    state: MessageState
    receive_count: int
    sent_at: datetime
    visible_at: datetime | None


@dataclass(frozen=True)
class DeadLetter:
    """A message in the dead-letter queue."""

    id: str
    group_id: str
    body: dict[str, Any]
    receive_count: int
    sent_at: datetime
    dead_at: datetime | None


@dataclass(frozen=True)
class QueuePage(Generic[T]):
    """One page of a listing; pass `next_cursor` back for the next one (None: the end)."""

    items: builtins.list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class QueueStats:
    """A snapshot of one queue. `depth` = visible + in_flight + delayed."""

    depth: int
    visible: int
    in_flight: int
    delayed: int
    oldest_age_seconds: float | None
    #: Messages deleted (processed) per minute, averaged over the last RATE_WINDOW_MINUTES.
    processed_per_minute: float
    #: Messages deleted in each of the last RATE_WINDOW_MINUTES minutes, oldest first
    #: (the current, unfinished minute last).
    processed_by_minute: builtins.list[int] = field(default_factory=builtins.list)
    dlq_depth: int = 0


@runtime_checkable
class Queue(Protocol):
    """One named FIFO queue with message groups and a dead-letter queue."""

    name: str

    async def send(
        self,
        group_id: str,
        body: dict[str, Any],
        dedup_id: str | None = None,
        *,
        delay_seconds: float = 0,
        session: AsyncSession | None = None,
    ) -> str | None:
        """Append `body` to `group_id`; the new message's id, or None when `dedup_id` was
        seen within DEDUP_WINDOW. With `session`, backends that can send inside the
        caller's transaction do (see each backend)."""
        ...

    async def receive(
        self, max_messages: int = 1, visibility_timeout: float = 30.0
    ) -> builtins.list[Message]:
        """Up to `max_messages` messages, at most one per group, hidden from other
        consumers for `visibility_timeout` seconds. May return none."""
        ...

    async def delete(self, receipt: str) -> None:
        """Mark the delivery named by `receipt` done; StaleReceipt if it is not current."""
        ...

    async def extend(self, receipt: str, seconds: float) -> None:
        """Keep the message invisible for `seconds` from now; StaleReceipt if the receipt
        is not current (the message was deleted or delivered to someone else)."""
        ...

    async def stats(self) -> QueueStats:
        """Depth, in flight, delayed, oldest age, processing rate and DLQ depth."""
        ...

    async def list(
        self, group_id: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> QueuePage[MessageInfo]:
        """Waiting and in-flight messages in delivery order (optionally of one group)."""
        ...

    async def dlq_list(self, limit: int = 50, cursor: str | None = None) -> QueuePage[DeadLetter]:
        """The dead-letter queue, oldest first."""
        ...

    async def redrive(self, message_id: str) -> None:
        """Move a dead letter back to the tail of its group, its receive count reset;
        NotFound when the dead-letter queue holds no such message."""
        ...

    async def close(self) -> None:
        """Release what the queue holds (connections); it stays usable afterwards."""
        ...
