"""The worker's hot path on PostgreSQL: claiming a queued task and finishing a completed
one, each a transaction of a few raw statements (loom.db.raw) instead of the ORM's
unit of work, so that one process carries out hundreds of tasks a second.

A claim locks the request and reads its tasks (one call, LOCK_AND_READ), then writes the
task's and request's state, its log lines and audit entry (one statement). A finish reads
the same way, then completes the task, queues the next one (or completes the request) and
settles the delivery in one statement: deletes its message or, for a request of quick
tasks, hands the delivery over to the next task, which the same worker then runs without
another round of the queue (`chain`).

Only the common case is taken here: a queued task of a request that is submitted,
processing or retrying and holds no secrets; an action that succeeded without a wait.
Anything else (a redelivery, an aborted request, a failure, a wait, a duplicate message)
is answered `None` / `False` after reading, before writing, and the runner takes its ORM
path (loom.workers.runner), which handles every case on both stores. The effects are
the same as that path's: the same transition tables, log lines, audit entries and queue
messages, in one transaction each (tests run both paths: SQLite takes the ORM one).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from loom.audit.raw import CHAIN, entry_params, no_entry
from loom.db.raw import HeldConnections, Statement
from loom.db.types import utcnow
from loom.platform.runtime import Runtime
from loom.provisioning.dispatch import dedup_id, task_message
from loom.provisioning.raw_writes import LOG_LINES, Lines, to_json
from loom.provisioning.states import RequestState, TaskState
from loom.provisioning.transitions import (
    check_request,
    check_task,
    request_audit,
    request_line,
    task_level,
    task_line,
)
from loom.queue.protocol import Queue
from loom.queue.sql import SqlQueue
from loom.queue.sql_postgres import SETTLE, SETTLED
from loom.workers.runner import WORKER, ActionOutcome, Delivery, TaskRun

#: Lock the request and read its tasks (one row each, with the request's columns), the
#: read starting once the lock is held: two statements run by a server-side function for
#: one round trip (migration 0009). `full`: what a claim needs to build the run.
LOCK_AND_READ = Statement.of(
    "SELECT * FROM loom_lock_request(:request_id::uuid, :task_id::uuid, :full::boolean)"
)
CLAIM_WRITE = Statement.of(
    f"""
    WITH task AS (
        UPDATE fulfillment_tasks
        SET state = 'processing', started_at = :now::timestamptz, attempts = attempts + 1
        WHERE id = :task_id::uuid
        RETURNING attempts
    ), request AS (
        UPDATE requests SET state = :request_state::text, updated_at = :now::timestamptz
        WHERE id = :request_id::uuid AND state <> :request_state::text
    ), lines AS ({LOG_LINES}), {CHAIN}
    SELECT attempts FROM task
    """  # noqa: S608 - the text formatted in is a constant
)
FINISH_WRITE = Statement.of(
    f"""
    WITH task AS (
        UPDATE fulfillment_tasks
        SET state = 'completed', finished_at = :now::timestamptz, outputs = :outputs::jsonb,
            external_refs = :external_refs::jsonb
        WHERE id = :task_id::uuid
    ), upcoming AS (
        UPDATE fulfillment_tasks
        SET state = :next_state::text, queued_at = :now::timestamptz,
            started_at = CASE WHEN :next_state::text = 'processing' THEN :now::timestamptz
                              ELSE started_at END,
            attempts = attempts + CASE WHEN :next_state::text = 'processing' THEN 1 ELSE 0 END
        WHERE id = :next_id::uuid
        RETURNING id, attempts, action_type, component_id, config, inputs
    ), request AS (
        UPDATE requests
        SET state = :request_state::text, tasks_completed = :tasks_completed::int,
            updated_at = :now::timestamptz,
            finished_at = COALESCE(:finished_at::timestamptz, finished_at)
        WHERE id = :request_id::uuid
    ), lines AS ({LOG_LINES}), {SETTLE}, {CHAIN}
    SELECT {SETTLED}, u.id, u.attempts, u.action_type, u.component_id, u.config, u.inputs
    FROM (SELECT 1) AS one LEFT JOIN upcoming u ON true
    """  # noqa: S608 - the text formatted in is a constant
)


class FastPath:
    """Claim and finish on raw connections the worker pool keeps (one per consumer)."""

    def __init__(
        self, queue: SqlQueue, connections: HeldConnections, visibility_timeout: float = 60.0
    ) -> None:
        self.queue = queue
        self.connections = connections
        self.visibility_timeout = visibility_timeout

    async def claim(self, request_id: uuid.UUID, task_id: uuid.UUID) -> TaskRun | None:
        """The task's run, its task now `processing`; None to leave it to the ORM path."""
        async with self.connections.connection() as conn, conn.transaction():
            rows = await LOCK_AND_READ.fetch(conn, request_id=request_id, task_id=task_id,
                                             full=True)  # fmt: skip
            if not rows:
                return None
            request = rows[0]
            state = RequestState(request["request_state"])
            if request["secret_fields"] or state not in (
                RequestState.SUBMITTED, RequestState.PROCESSING, RequestState.RETRYING
            ):  # fmt: skip
                return None
            task = next((row for row in rows if row["id"] == task_id), None)
            if task is None or task["state"] != TaskState.QUEUED:
                return None
            now, lines = utcnow(), Lines()
            if state is not RequestState.PROCESSING:
                check_request(state, RequestState.PROCESSING)
                lines.add(request_line(state, RequestState.PROCESSING))
            check_task(task["action_id"], TaskState.QUEUED, TaskState.PROCESSING)
            lines.add(
                task_line(task["position"], task["action_id"], TaskState.QUEUED,
                          TaskState.PROCESSING),
                task_id, task_level(TaskState.PROCESSING),
            )  # fmt: skip
            audit = no_entry() if state is RequestState.PROCESSING else entry_params(
                **request_audit(request["org_id"], request["team_id"], request_id, WORKER,
                                state, RequestState.PROCESSING)
            )  # fmt: skip
            written = await CLAIM_WRITE.fetch(
                conn, task_id=task_id, request_id=request_id, now=now,
                request_state=RequestState.PROCESSING.value, **lines.params(), **audit,
            )  # fmt: skip
            return _task_run(request_id, request, task, rows, written[0]["attempts"])

    async def finish(
        self,
        run: TaskRun,
        result: ActionOutcome,
        delivery: Delivery | None = None,
        *,
        chain: bool = False,
    ) -> bool | TaskRun:
        """Complete the task, queue the next one or complete the request, and delete the
        `delivery`'s message, all in one transaction; False (nothing written) to leave
        it to the ORM path.

        With `chain`, the next task is not queued but claimed in the same transaction and
        its run returned, for the caller to carry out at once under the same delivery
        (`SqlQueue.settling`): a request of quick tasks costs one transaction per task.
        """
        if not result.ok or result.wait is not None:
            return False
        try:
            return await self._finish(run, result, delivery, chain)
        except _NotHandedOver:
            # Another message waits in the group, or the receipt is not current any more
            # (both rare); nothing was written: queue the next task instead.
            return await self._finish(run, result, delivery, chain=False)

    async def _finish(
        self, run: TaskRun, result: ActionOutcome, delivery: Delivery | None, chain: bool
    ) -> bool | TaskRun:
        async with self.connections.connection() as conn, conn.transaction():
            tasks = await LOCK_AND_READ.fetch(conn, request_id=run.request_id,
                                              task_id=run.task_id, full=False)  # fmt: skip
            if not tasks or tasks[0]["secret_fields"]:
                return False
            request = tasks[0]
            if request["request_state"] != RequestState.PROCESSING:
                return False
            task = next((t for t in tasks if t["id"] == run.task_id), None)
            if task is None or task["state"] != TaskState.PROCESSING:
                return False
            now, lines = utcnow(), Lines()
            for line in result.log:
                lines.add(line, run.task_id)
            check_task(task["action_id"], TaskState.PROCESSING, TaskState.COMPLETED)
            lines.add(_line(task, TaskState.PROCESSING, TaskState.COMPLETED), run.task_id)
            following = [t for t in tasks if t["position"] > task["position"]]
            upcoming = next((t for t in following if t["state"] == TaskState.PENDING), None)
            done = 1 + sum(1 for t in tasks if t["state"] == TaskState.COMPLETED)
            completes = upcoming is None and done == len(tasks)
            receipt = delivery.receipt if delivery is not None else None
            # A stale receipt (the message came back to another consumer meanwhile) is
            # left alone: that delivery finds the task completed and deletes it.
            settle = self.queue.settling(receipt)
            # The next run is built from this one's: only for the task right after it.
            hand_over = (chain and receipt is not None and upcoming is not None
                         and upcoming["position"] == task["position"] + 1)  # fmt: skip
            if upcoming is not None:
                check_task(upcoming["action_id"], TaskState.PENDING, TaskState.QUEUED)
                lines.add(_line(upcoming, TaskState.PENDING, TaskState.QUEUED), upcoming["id"])
                message = task_message(run.request_id, upcoming["id"], run.correlation_id)
                dedup = dedup_id(upcoming["id"], now)
                if hand_over:
                    check_task(upcoming["action_id"], TaskState.QUEUED, TaskState.PROCESSING)
                    lines.add(_line(upcoming, TaskState.QUEUED, TaskState.PROCESSING),
                              upcoming["id"], task_level(TaskState.PROCESSING))  # fmt: skip
                    settle = self.queue.settling(
                        receipt, hand_over=message, dedup_id=dedup,
                        visibility_timeout=self.visibility_timeout,
                    )  # fmt: skip
                else:
                    await self.queue.send_on(conn, str(run.request_id), message, dedup_id=dedup)
            if completes:
                check_request(RequestState.PROCESSING, RequestState.COMPLETED)
                lines.add(request_line(RequestState.PROCESSING, RequestState.COMPLETED))
            audit = no_entry() if not completes else entry_params(
                **request_audit(request["org_id"], request["team_id"], run.request_id, WORKER,
                                RequestState.PROCESSING, RequestState.COMPLETED)
            )  # fmt: skip
            [written] = await FINISH_WRITE.fetch(
                conn, task_id=run.task_id, request_id=run.request_id, now=now,
                outputs=to_json(result.outputs), external_refs=to_json(result.external_refs),
                next_id=upcoming["id"] if upcoming is not None else None,
                next_state=(TaskState.PROCESSING if hand_over else TaskState.QUEUED).value,
                request_state=(RequestState.COMPLETED if completes
                               else RequestState.PROCESSING).value,
                tasks_completed=done, finished_at=now if completes else None,
                **lines.params(), **audit, **settle,
            )  # fmt: skip
            if hand_over and not written["handed_over"]:
                raise _NotHandedOver  # rolls the transaction back
            acked = await self.queue.settled(conn, written)
        if delivery is not None:
            delivery.acked = acked
        if hand_over:
            return _next_run(run, result, written)
        return True


class _NotHandedOver(Exception):
    pass


def _line(task: Any, old: TaskState, new: TaskState) -> str:
    return task_line(task["position"], task["action_id"], old, new)


def _earlier(rows: list[Any], position: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The outputs and external references of the completed tasks before `position`."""
    outputs: dict[str, Any] = {}
    refs: list[dict[str, Any]] = []
    for row in rows:
        if row["position"] < position and row["state"] == TaskState.COMPLETED:
            outputs.update(row["outputs"])
            refs.append(row["external_refs"])
    return outputs, refs


def _next_run(run: TaskRun, result: ActionOutcome, task: Any) -> TaskRun:
    """The run of `task`, the one right after `run`'s, handed over as `run` completed with
    `result`: the request's part is `run`'s (it cannot change while a task of it runs)."""
    return replace(
        run, task_id=task["id"], attempt=task["attempts"], action_type=task["action_type"],
        config=task["config"], inputs=task["inputs"], component_id=task["component_id"],
        outputs_so_far={**run.outputs_so_far, **result.outputs},
        earlier_refs=[*run.earlier_refs, result.external_refs], redelivered=False,
    )  # fmt: skip


def _task_run(
    request_id: uuid.UUID, request: Any, task: Any, rows: list[Any], attempts: int
) -> TaskRun:
    outputs, earlier_refs = _earlier(rows, task["position"])
    return TaskRun(
        request_id=request_id,
        task_id=task["id"],
        attempt=attempts,
        action_type=task["action_type"],
        config=task["config"],
        inputs=task["inputs"],
        outputs_so_far=outputs,
        secrets={},
        correlation_id=request["correlation_id"],
        redelivered=False,
        org_id=request["org_id"],
        definition=request["definition"],
        requester={
            "email": request["email"] or "",
            "name": request["name"] or "",
            "teams": list(request["teams"]),
        },
        requested_at=request["created_at"],
        component_id=task["component_id"],
        request_inputs=request["request_inputs"],
        earlier_refs=earlier_refs,
    )


def fast_path_for(
    runtime: Runtime, queue: Queue, consumers: int, visibility_timeout: float = 60.0
) -> FastPath | None:
    """The hot path for a worker pool: on PostgreSQL with the `sql` queue only."""
    if not isinstance(queue, SqlQueue) or not queue.on_postgres:
        return None
    return FastPath(queue, HeldConnections(runtime.engine, consumers), visibility_timeout)
