"""The worker's hot path on PostgreSQL: claiming a queued task and finishing a completed
one, each a transaction of a few raw statements (loom.db.raw) instead of the ORM's
unit of work, so that one process carries out hundreds of tasks a second.

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
from loom.workers.runner import WORKER, ActionOutcome, Delivery, TaskRun

LOCK_REQUEST = Statement.of(
    """
    SELECT state, org_id, team_id, secret_fields
    FROM requests WHERE id = :request_id::uuid FOR UPDATE
    """
)
#: The claim also reads what the action sees of its request, and who asked (the
#: `.system.user` of the templates).
CLAIM_LOCK = Statement.of(
    """
    SELECT r.state, r.org_id, r.team_id, r.secret_fields, r.correlation_id, r.created_at,
           r.definition, r.inputs, u.email, u.name,
           ARRAY(SELECT tm.slug FROM memberships m JOIN teams tm ON tm.id = m.team_id
                 WHERE m.user_id = r.requester_id ORDER BY tm.slug) AS teams
    FROM requests r LEFT JOIN users u ON u.id = r.requester_id
    WHERE r.id = :request_id::uuid FOR UPDATE OF r
    """
)
#: Read once the lock is held: a statement's snapshot is taken when it starts. Only the
#: JSON the run needs: the claimed task's config and inputs, completed tasks' results.
CLAIM_READ = Statement.of(
    """
    SELECT id, position, state, component_id, action_id, action_type, attempts,
           CASE WHEN id = :task_id::uuid THEN config END AS config,
           CASE WHEN id = :task_id::uuid THEN inputs END AS inputs,
           CASE WHEN state = 'completed' THEN outputs END AS outputs,
           CASE WHEN state = 'completed' THEN external_refs END AS external_refs
    FROM fulfillment_tasks WHERE request_id = :request_id::uuid ORDER BY position
    """
)
FINISH_READ = Statement.of(
    """
    SELECT id, position, state, action_id, attempts FROM fulfillment_tasks
    WHERE request_id = :request_id::uuid ORDER BY position
    """
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
    ), lines AS ({LOG_LINES}), {CHAIN}
    SELECT id, attempts, action_type, component_id, config, inputs FROM upcoming
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
            locked = await CLAIM_LOCK.fetch(conn, request_id=request_id)
            if not locked:
                return None
            request = locked[0]
            state = RequestState(request["state"])
            if request["secret_fields"] or state not in (
                RequestState.SUBMITTED, RequestState.PROCESSING, RequestState.RETRYING
            ):  # fmt: skip
                return None
            rows = await CLAIM_READ.fetch(conn, request_id=request_id, task_id=task_id)
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
        (`queue.hand_over_on`): a request of quick tasks costs one transaction per task.
        """
        if not result.ok or result.wait is not None:
            return False
        async with self.connections.connection() as conn, conn.transaction():
            locked = await LOCK_REQUEST.fetch(conn, request_id=run.request_id)
            if not locked or locked[0]["secret_fields"]:
                return False
            request = locked[0]
            if request["state"] != RequestState.PROCESSING:
                return False
            tasks = await FINISH_READ.fetch(conn, request_id=run.request_id)
            task = next((t for t in tasks if t["id"] == run.task_id), None)
            if task is None or task["state"] != TaskState.PROCESSING:
                return False
            now, lines = utcnow(), Lines()
            for line in result.log:
                lines.add(line, run.task_id)
            check_task(task["action_id"], TaskState.PROCESSING, TaskState.COMPLETED)
            lines.add(task_line(task["position"], task["action_id"], TaskState.PROCESSING,
                                TaskState.COMPLETED), run.task_id)  # fmt: skip
            following = [t for t in tasks if t["position"] > task["position"]]
            upcoming = next((t for t in following if t["state"] == TaskState.PENDING), None)
            done = 1 + sum(1 for t in tasks if t["state"] == TaskState.COMPLETED)
            completes = upcoming is None and done == len(tasks)
            handed_over = False
            if upcoming is not None:
                check_task(upcoming["action_id"], TaskState.PENDING, TaskState.QUEUED)
                lines.add(_line(upcoming, TaskState.PENDING, TaskState.QUEUED), upcoming["id"])
                message = task_message(run.request_id, upcoming["id"], run.correlation_id)
                dedup = dedup_id(upcoming["id"], now)
                # The next run is built from this one's: for the task right after it.
                handed_over = (chain and delivery is not None
                               and upcoming["position"] == task["position"] + 1
                               and await self.queue.hand_over_on(
                    conn, delivery.receipt, message, dedup_id=dedup,
                    visibility_timeout=self.visibility_timeout,
                ))  # fmt: skip
                if handed_over:
                    check_task(upcoming["action_id"], TaskState.QUEUED, TaskState.PROCESSING)
                    lines.add(_line(upcoming, TaskState.QUEUED, TaskState.PROCESSING),
                              upcoming["id"], task_level(TaskState.PROCESSING))  # fmt: skip
                else:
                    await self.queue.send_on(conn, str(run.request_id), message, dedup_id=dedup)
            if completes:
                check_request(RequestState.PROCESSING, RequestState.COMPLETED)
                lines.add(request_line(RequestState.PROCESSING, RequestState.COMPLETED))
            # A stale receipt (the message came back to another consumer meanwhile) is
            # left alone: that delivery finds the task completed and deletes it.
            acked = (not handed_over and delivery is not None
                     and await self.queue.delete_on(conn, delivery.receipt))  # fmt: skip
            audit = no_entry() if not completes else entry_params(
                **request_audit(request["org_id"], request["team_id"], run.request_id, WORKER,
                                RequestState.PROCESSING, RequestState.COMPLETED)
            )  # fmt: skip
            written = await FINISH_WRITE.fetch(
                conn, task_id=run.task_id, request_id=run.request_id, now=now,
                outputs=to_json(result.outputs), external_refs=to_json(result.external_refs),
                next_id=upcoming["id"] if upcoming is not None else None,
                next_state=(TaskState.PROCESSING if handed_over else TaskState.QUEUED).value,
                request_state=(RequestState.COMPLETED if completes
                               else RequestState.PROCESSING).value,
                tasks_completed=done, finished_at=now if completes else None,
                **lines.params(), **audit,
            )  # fmt: skip
        if delivery is not None:
            delivery.acked = acked
        if handed_over:
            return _next_run(run, result, written[0])
        return True


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
        request_inputs=request["inputs"],
        earlier_refs=earlier_refs,
    )


def fast_path_for(
    runtime: Runtime, queue: Queue, consumers: int, visibility_timeout: float = 60.0
) -> FastPath | None:
    """The hot path for a worker pool: on PostgreSQL with the `sql` queue only."""
    if not isinstance(queue, SqlQueue) or not queue.on_postgres:
        return None
    return FastPath(queue, HeldConnections(runtime.engine, consumers), visibility_timeout)
