"""Errors the queue raises. They are domain errors (`loom.errors`), so the API maps them to
the error envelope without the backends knowing about HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from loom.errors import Conflict, LoomError


@dataclass
class QueueError(LoomError):
    """Something the queue refused; the message says what."""

    code: str = "QUEUE_ERROR"


@dataclass
class StaleReceipt(Conflict):
    """The receipt no longer names the message's current delivery: the message was
    deleted, or its visibility timeout ran out and another consumer received it. Whoever
    holds a stale receipt must assume someone else is processing (or has processed) it."""

    code: str = "STALE_RECEIPT"


@dataclass
class UnsupportedOperation(QueueError):
    """The backend cannot do this (SQS cannot list the messages it holds)."""

    code: str = "NOT_SUPPORTED"
