"""The `sqs` queue backend: one named queue is an AWS SQS FIFO queue plus its dead-letter
queue (a FIFO queue named in the main queue's redrive policy with maxReceiveCount 3), both
given by URL in settings. Needs the `sqs` extra (boto3); boto3's blocking calls run in a
worker thread.

SQS keeps the ordering, group, visibility, dead-letter and dedup rules itself. What it
cannot do, and how this adapter differs from the `sql` backend:

* `send(..., session=)` is not transactional: the message is sent at once, whether or not
  the caller's transaction commits. (A transactional outbox that forwards messages after
  commit is the way to get that guarantee on SQS.)
* FIFO queues have no per-message delay. A delayed message carries its due time in its
  envelope; a consumer that receives it early hides it again until then (at most 12 h,
  SQS's longest visibility timeout), which also holds back its group as a delayed head
  should. That early receive counts toward SQS's receive count, so a delayed message
  reaches the DLQ after 2 failed deliveries instead of 3 (reported counts leave it out).
* One ReceiveMessage call may return several messages of one group; to keep one message
  of a group in flight, `receive` asks for one message per call.
* SQS cannot list the messages it holds: `list` and `dlq_list` raise
  UnsupportedOperation. `redrive` can only reach the dead-letter queue's group heads
  (FIFO hides the rest of a group while its head is held) and the message gets a new id.
* A duplicate send is recognised (returns None) when it went through this process within
  the dedup window; SQS drops the others silently and the id SQS answered is returned.
* `stats()`: SQS's approximate counts; no oldest age; the processing rate counts only
  deletions made by this process.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import math
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from loom.db.types import utcnow
from loom.errors import InvalidInput, NotFound
from loom.queue.errors import StaleReceipt, UnsupportedOperation
from loom.queue.protocol import (
    DEDUP_WINDOW,
    MAX_RECEIVES,
    RATE_WINDOW_MINUTES,
    DeadLetter,
    Message,
    MessageInfo,
    QueuePage,
    QueueStats,
)
from loom.settings import QueueSettings, SqsQueueUrls

#: SQS's longest visibility timeout.
MAX_VISIBILITY_SECONDS = 12 * 3600
_STALE_CODES = frozenset({"ReceiptHandleIsInvalid", "InvalidParameterValue", "MessageNotInflight"})
#: Receive calls one redrive makes at most while looking for its message.
_REDRIVE_SCAN_CALLS = 10


class SqsQueue:
    """One named Loom queue on an SQS FIFO queue and its DLQ (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        name: str,
        urls: SqsQueueUrls,
        *,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.name = name
        self._client = client
        self._url = urls.url
        self._dlq_url = urls.dlq_url
        self._now = now
        self._sent_dedup: dict[str, datetime] = {}
        self._processed: Counter[datetime] = Counter()

    @classmethod
    def from_settings(cls, settings: QueueSettings, name: str) -> SqsQueue:
        """A client for `settings.sqs_region` / `sqs_endpoint_url` and the URLs of `name`."""
        urls = settings.sqs_queues.get(name)
        if urls is None:
            raise InvalidInput.on(
                "queue.sqs_queues", f"no SQS queue URLs configured for queue {name!r}"
            )
        return cls(_client(settings.sqs_region, settings.sqs_endpoint_url), name, urls)

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = await asyncio.to_thread(getattr(self._client, method), **kwargs)
        return result

    # -- sending ------------------------------------------------------------------------

    async def send(
        self,
        group_id: str,
        body: dict[str, Any],
        dedup_id: str | None = None,
        *,
        delay_seconds: float = 0,
        session: Any = None,
    ) -> str | None:
        """Send at once. `session` is accepted for the protocol's sake but NOT honoured:
        SQS cannot join a database transaction, so a rolled-back caller still leaves the
        message sent (a transactional outbox will close that gap)."""
        del session
        if not 1 <= len(group_id) <= 128:
            raise InvalidInput.on("group_id", "must be 1 to 128 characters")
        if not 0 <= delay_seconds <= MAX_VISIBILITY_SECONDS:
            raise InvalidInput.on("delay_seconds", "must be between 0 and 43200 on SQS")
        now = self._now()
        if dedup_id is not None and self._seen_recently(dedup_id, now):
            return None
        envelope: dict[str, Any] = {"body": body}
        if delay_seconds > 0:
            envelope["not_before"] = (now + timedelta(seconds=delay_seconds)).isoformat()
        answer = await self._call(
            "send_message",
            QueueUrl=self._url,
            MessageBody=json.dumps(envelope, separators=(",", ":")),
            MessageGroupId=group_id,
            MessageDeduplicationId=dedup_id or uuid.uuid4().hex,
        )
        if dedup_id is not None:
            self._sent_dedup[dedup_id] = now
        return str(answer["MessageId"])

    def _seen_recently(self, dedup_id: str, now: datetime) -> bool:
        """Whether this process sent `dedup_id` within the window."""
        while self._sent_dedup:  # oldest first: forget what left the window
            oldest, sent = next(iter(self._sent_dedup.items()))
            if now - sent < DEDUP_WINDOW:
                break
            del self._sent_dedup[oldest]
        return dedup_id in self._sent_dedup

    # -- consuming ----------------------------------------------------------------------

    async def receive(
        self, max_messages: int = 1, visibility_timeout: float = 30.0
    ) -> builtins.list[Message]:
        """Up to `max_messages` messages, one ReceiveMessage call each (so at most one per
        group); delayed messages received early are hidden again until due."""
        if not 1 <= max_messages <= 100:
            raise InvalidInput.on("max_messages", "must be between 1 and 100")
        timeout = _seconds(visibility_timeout)
        messages: builtins.list[Message] = []
        for _ in range(2 * max_messages):
            if len(messages) >= max_messages:
                break
            answer = await self._call(
                "receive_message",
                QueueUrl=self._url,
                MaxNumberOfMessages=1,
                VisibilityTimeout=timeout,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
            )
            raw = answer.get("Messages") or []
            if not raw:
                break
            message = await self._accept(raw[0])
            if message is not None:
                messages.append(message)
        return messages

    async def _accept(self, raw: dict[str, Any]) -> Message | None:
        """The message, or None after hiding a delayed one that is not due yet."""
        envelope = json.loads(raw["Body"])
        attributes = raw.get("Attributes", {})
        now = self._now()
        not_before = envelope.get("not_before")
        due = datetime.fromisoformat(not_before) if not_before else None
        if due is not None and due > now:
            await self._call(
                "change_message_visibility",
                QueueUrl=self._url,
                ReceiptHandle=raw["ReceiptHandle"],
                VisibilityTimeout=_seconds((due - now).total_seconds()),
            )
            return None
        count = int(attributes.get("ApproximateReceiveCount", 1))
        first = _from_millis(attributes.get("ApproximateFirstReceiveTimestamp"))
        if due is not None and first is not None and first < due:
            count -= 1  # the early receive that waited for the due time
        return Message(
            id=raw["MessageId"],
            group_id=attributes.get("MessageGroupId", ""),
            body=envelope["body"],
            receipt=raw["ReceiptHandle"],
            receive_count=max(count, 1),
            sent_at=_from_millis(attributes.get("SentTimestamp")) or now,
        )

    async def delete(self, receipt: str) -> None:
        """Delete the delivered message; StaleReceipt when SQS refuses the receipt."""
        await self._with_receipt("delete_message", QueueUrl=self._url, ReceiptHandle=receipt)
        self._processed[self._now().replace(second=0, microsecond=0)] += 1

    async def extend(self, receipt: str, seconds: float) -> None:
        """Keep the message hidden `seconds` from now (at most 12 h on SQS)."""
        await self._with_receipt(
            "change_message_visibility",
            QueueUrl=self._url,
            ReceiptHandle=receipt,
            VisibilityTimeout=_seconds(seconds),
        )

    async def _with_receipt(self, method: str, **kwargs: Any) -> None:
        from botocore.exceptions import ClientError  # type: ignore[import-untyped]

        try:
            await self._call(method, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _STALE_CODES:
                raise StaleReceipt(
                    f"receipt is stale: SQS refused it ({exc.response['Error'].get('Message')})"
                ) from None
            raise

    # -- dead letters -------------------------------------------------------------------

    async def redrive(self, message_id: str) -> None:
        """Find `message_id` among the DLQ's group heads, send it back to its group (with a
        new id) and delete it from the DLQ; NotFound if no head has that id."""
        held: builtins.list[str] = []
        try:
            for _ in range(_REDRIVE_SCAN_CALLS):
                answer = await self._call(
                    "receive_message",
                    QueueUrl=self._dlq_url,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=30,
                    WaitTimeSeconds=0,
                    MessageSystemAttributeNames=["All"],
                )
                raw = answer.get("Messages") or []
                if not raw:
                    break
                for item in raw:
                    if item["MessageId"] != message_id:
                        held.append(item["ReceiptHandle"])
                        continue
                    envelope = json.loads(item["Body"])
                    await self._call(
                        "send_message",
                        QueueUrl=self._url,
                        MessageBody=json.dumps({"body": envelope["body"]}, separators=(",", ":")),
                        MessageGroupId=item["Attributes"]["MessageGroupId"],
                        MessageDeduplicationId=uuid.uuid4().hex,
                    )
                    await self._call(
                        "delete_message",
                        QueueUrl=self._dlq_url,
                        ReceiptHandle=item["ReceiptHandle"],
                    )
                    return
        finally:
            for receipt in held:
                await self._call(
                    "change_message_visibility",
                    QueueUrl=self._dlq_url,
                    ReceiptHandle=receipt,
                    VisibilityTimeout=0,
                )
        raise NotFound(f"no dead letter {message_id!r} at the head of a group in {self.name!r}")

    async def close(self) -> None:
        """Nothing to release: boto3's client keeps its own connection pool."""

    async def dlq_list(self, limit: int = 50, cursor: str | None = None) -> QueuePage[DeadLetter]:
        raise UnsupportedOperation("SQS cannot list the dead-letter queue's messages")

    async def list(
        self, group_id: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> QueuePage[MessageInfo]:
        raise UnsupportedOperation("SQS cannot list the messages it holds")

    # -- reading ------------------------------------------------------------------------

    async def stats(self) -> QueueStats:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        main = await self._call("get_queue_attributes", QueueUrl=self._url, AttributeNames=names)
        dead = await self._call(
            "get_queue_attributes", QueueUrl=self._dlq_url, AttributeNames=names
        )
        attrs = main.get("Attributes", {})
        visible = int(attrs.get("ApproximateNumberOfMessages", 0))
        in_flight = int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))
        delayed = int(attrs.get("ApproximateNumberOfMessagesDelayed", 0))
        this_minute = self._now().replace(second=0, microsecond=0)
        first = this_minute - timedelta(minutes=RATE_WINDOW_MINUTES - 1)
        by_minute = [
            self._processed.get(first + timedelta(minutes=i), 0) for i in range(RATE_WINDOW_MINUTES)
        ]
        for minute in builtins.list(self._processed):
            if minute < first:
                del self._processed[minute]
        return QueueStats(
            depth=visible + in_flight + delayed,
            visible=visible,
            in_flight=in_flight,
            delayed=delayed,
            oldest_age_seconds=None,
            processed_per_minute=sum(by_minute) / RATE_WINDOW_MINUTES,
            processed_by_minute=by_minute,
            dlq_depth=int(dead.get("Attributes", {}).get("ApproximateNumberOfMessages", 0)),
        )


def create_fifo_queues(client: Any, name: str, max_receives: int = MAX_RECEIVES) -> SqsQueueUrls:
    """Create (or find) `<name>.fifo` and its DLQ `<name>-dlq.fifo` with the redrive policy
    this backend expects; for development setups and tests."""
    dlq_url = client.create_queue(QueueName=f"{name}-dlq.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receives)})
    url = client.create_queue(
        QueueName=f"{name}.fifo",
        Attributes={"FifoQueue": "true", "RedrivePolicy": policy},
    )["QueueUrl"]
    return SqsQueueUrls(url=url, dlq_url=dlq_url)


def _client(region: str, endpoint_url: str) -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise InvalidInput.on(
            "queue.backend", "the sqs backend needs boto3: pip install 'loom[sqs]'"
        ) from None
    return boto3.client("sqs", region_name=region or None, endpoint_url=endpoint_url or None)


def _seconds(value: float) -> int:
    """SQS takes whole seconds between 0 and 12 h."""
    if value < 0:
        raise InvalidInput.on("seconds", "must not be negative")
    return min(math.ceil(value), MAX_VISIBILITY_SECONDS)


def _from_millis(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
