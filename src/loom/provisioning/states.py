"""The lifecycles of a request and of its fulfillment tasks, as data: each state maps to
the states it may move to. `loom.provisioning.transitions.set_state` is the only code
that changes a state, and it refuses anything not in these tables.

A request stays `processing` while one of its tasks is `waiting`; what it waits for is
kept on the task's wait (loom.provisioning.waits) and shown as the request's
`waiting_for`.

An escalated request (loom.provisioning.escalation) has handed its failed task and every
task after it to people, one JIRA ticket each: those tasks are `escalated` and hold their
ticket. Afterwards the team completes the request once the work is done by hand (the
escalated tasks become `completed`), retries it (the work goes back to Loom: the first
escalated task is queued, the others wait their turn again as `pending`), or aborts it.
"""

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
    #: Handed to people through a JIRA ticket (its external reference) by an escalation.
    ESCALATED = "escalated"


R, T = RequestState, TaskState

REQUEST_TRANSITIONS = MappingProxyType(
    {
        # Failed before it started: its first task's message was dead-lettered.
        R.SUBMITTED: frozenset({R.PROCESSING, R.ABORTED, R.FAILED}),
        R.PROCESSING: frozenset({R.COMPLETED, R.FAILED, R.ABORTED}),
        # A failure waits for a person: retry, abort, or hand it to someone (escalate).
        R.FAILED: frozenset({R.RETRYING, R.ABORTED, R.ESCALATED}),
        R.RETRYING: frozenset({R.PROCESSING, R.FAILED, R.ABORTED}),
        # People do the rest by hand and then complete it, or give it back (retry).
        R.ESCALATED: frozenset({R.RETRYING, R.ABORTED, R.COMPLETED}),
        R.COMPLETED: frozenset(),
        R.ABORTED: frozenset(),
    }
)

TASK_TRANSITIONS = MappingProxyType(
    {
        T.PENDING: frozenset({T.QUEUED, T.SKIPPED, T.ESCALATED}),
        T.QUEUED: frozenset({T.PROCESSING, T.SKIPPED, T.STUCK}),
        T.PROCESSING: frozenset({T.COMPLETED, T.FAILED, T.STUCK, T.WAITING}),
        # A wait ends by its completion (an approval, a check, a callback), its failure
        # (a rejection, a timeout) or the request's abort (skipped).
        T.WAITING: frozenset({T.COMPLETED, T.FAILED, T.SKIPPED}),
        # Retry puts a failed or stuck task back on the queue; abort skips it; escalation
        # hands it (and the pending tasks after it) to people.
        T.FAILED: frozenset({T.QUEUED, T.SKIPPED, T.ESCALATED}),
        T.STUCK: frozenset({T.QUEUED, T.SKIPPED, T.ESCALATED}),
        # Done by hand (the team completes the request), given back to Loom by a retry
        # (the first one queued, the others pending again), or skipped by an abort.
        T.ESCALATED: frozenset({T.COMPLETED, T.QUEUED, T.PENDING, T.SKIPPED}),
        T.COMPLETED: frozenset(),
        T.SKIPPED: frozenset(),
    }
)

REQUEST_FINAL = frozenset(s for s, nxt in REQUEST_TRANSITIONS.items() if not nxt)
TASK_FINAL = frozenset(s for s, nxt in TASK_TRANSITIONS.items() if not nxt)
