"""The FIFO queue the provisioning workers consume: message groups delivered strictly in
order, one message of a group in flight at a time, visibility timeouts, a dead-letter
queue after 3 receives, redrive, and 5-minute deduplication (the semantics of an SQS FIFO
queue).

`protocol.py` holds the `Queue` protocol and its value types; backends are `sql.py`
(tables in Loom's own database) and `sqs.py` (AWS SQS FIFO, the optional `sqs` extra);
`factory.create_queue` picks one from settings.

Message bodies carry ids only (a task id, a request id), never secrets or payloads: the
queue is listed through the API and, on SQS, stored outside Loom.
"""

from loom.queue.errors import QueueError, StaleReceipt, UnsupportedOperation
from loom.queue.protocol import (
    DeadLetter,
    Message,
    MessageInfo,
    MessageState,
    Queue,
    QueuePage,
    QueueStats,
)

__all__ = [
    "DeadLetter",
    "Message",
    "MessageInfo",
    "MessageState",
    "Queue",
    "QueueError",
    "QueuePage",
    "QueueStats",
    "StaleReceipt",
    "UnsupportedOperation",
]
