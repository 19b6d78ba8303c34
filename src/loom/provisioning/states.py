"""The lifecycles of a request and of its fulfillment tasks, as data: each state maps to
the states it may move to. `loom.provisioning.transitions.set_state` is the only code
that changes a state, and it refuses anything not in these tables.

A request stays `processing` while one of its tasks is `waiting`; what it waits for is
kept on the task's wait (loom.provisioning.waits) and shown as the request's
`waiting_for`."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class RequestState(StrEnum):
    SUBMITTED = "submitted"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    RETRYING = "retrying"
    ABORTED = "aborted"
    ESCALATED = "escalated"


class TaskState(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    PROCESSING = "processing"
    #: The action did its first step and waits for the world (an approval, a ticket
    #: reaching done, a callback): no worker or queue group is held meanwhile.
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    STUCK = "stuck"


R, T = RequestState, TaskState

REQUEST_TRANSITIONS = MappingProxyType(
    {
        R.SUBMITTED: frozenset({R.PROCESSING, R.ABORTED}),
        R.PROCESSING: frozenset({R.COMPLETED, R.FAILED, R.ABORTED}),
        # A failure waits for a person: retry, abort, or hand it to someone (escalate).
        R.FAILED: frozenset({R.RETRYING, R.ABORTED, R.ESCALATED}),
        R.RETRYING: frozenset({R.PROCESSING, R.FAILED, R.ABORTED}),
        R.ESCALATED: frozenset({R.RETRYING, R.ABORTED}),
        R.COMPLETED: frozenset(),
        R.ABORTED: frozenset(),
    }
)

TASK_TRANSITIONS = MappingProxyType(
    {
        T.PENDING: frozenset({T.QUEUED, T.SKIPPED}),
        T.QUEUED: frozenset({T.PROCESSING, T.SKIPPED, T.STUCK}),
        T.PROCESSING: frozenset({T.COMPLETED, T.FAILED, T.STUCK, T.WAITING}),
        # A wait ends by its completion (an approval, a check, a callback), its failure
        # (a rejection, a timeout) or the request's abort (skipped).
        T.WAITING: frozenset({T.COMPLETED, T.FAILED, T.SKIPPED}),
        # Retry puts a failed or stuck task back on the queue; abort skips it.
        T.FAILED: frozenset({T.QUEUED, T.SKIPPED}),
        T.STUCK: frozenset({T.QUEUED, T.SKIPPED}),
        T.COMPLETED: frozenset(),
        T.SKIPPED: frozenset(),
    }
)

REQUEST_FINAL = frozenset(s for s, nxt in REQUEST_TRANSITIONS.items() if not nxt)
TASK_FINAL = frozenset(s for s, nxt in TASK_TRANSITIONS.items() if not nxt)
