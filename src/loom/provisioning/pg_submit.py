"""Storing a submission on PostgreSQL with raw statements (loom.db.raw) in the caller's
transaction: the request, its tasks, its log lines and its audit entry in one statement
(the caller sends the first task's message before it: the entry locks the organisation's
audit chain until commit). The rows are those the ORM path of
`service.submit` writes (it still serves SQLite and submissions with secrets); the ORM
objects handed back are built here, complete, and never added to the session."""

from __future__ import annotations

from typing import Any

from loom.audit.raw import CHAIN
from loom.db.raw import Statement
from loom.provisioning.models import FulfillmentTask, Request
from loom.provisioning.raw_writes import LOG_LINES, Lines, to_json

INSERT = Statement.of(
    f"""
    WITH request AS (
        INSERT INTO requests (id, org_id, team_id, requester_id, kind, entry_id, entry_name,
            entry_version, entry_digest, commit_sha, definition, inputs, secret_fields,
            state, correlation_id, tasks_total, tasks_completed, created_at, updated_at)
        VALUES (:request_id::uuid, :org_id::uuid, :team_id::uuid, :requester_id::uuid,
            :kind::text, :entry_id::text, :entry_name::text, :entry_version::text,
            :entry_digest::text, :commit_sha::text, :definition::jsonb, :inputs::jsonb,
            :secret_fields::jsonb, :state::text, :correlation_id::text, :tasks_total::int,
            0, :now::timestamptz, :now::timestamptz)
    ), tasks AS (
        INSERT INTO fulfillment_tasks (id, request_id, org_id, position, component_id,
            item_id, action_id, action_type, config, declared_outputs, inputs, state,
            attempts, outputs, external_refs, queued_at)
        SELECT t.id, :request_id::uuid, :org_id::uuid, t.position, t.component_id,
            t.item_id, t.action_id, t.action_type, t.config, t.declared_outputs, t.inputs,
            t.state, 0, '{{}}'::jsonb, '{{}}'::jsonb, t.queued_at
        FROM jsonb_to_recordset(:tasks::jsonb) AS t(id uuid, position int,
            component_id text, item_id text, action_id text, action_type text, config jsonb,
            declared_outputs jsonb, inputs jsonb, state text, queued_at timestamptz)
    ), lines AS ({LOG_LINES}), {CHAIN}
    SELECT 1
    """  # noqa: S608 - the text formatted in is a constant
)


async def insert(connection: Any, request: Request, lines: Lines, audit: dict[str, Any]) -> None:
    """Insert `request` (ids, states and timestamps all set) with its tasks, `lines` and
    the audit entry `audit` (loom.audit.raw.entry_params)."""
    await INSERT.fetch(
        connection,
        request_id=request.id, org_id=request.org_id, team_id=request.team_id,
        requester_id=request.requester_id, kind=request.kind, entry_id=request.entry_id,
        entry_name=request.entry_name, entry_version=request.entry_version,
        entry_digest=request.entry_digest, commit_sha=request.commit_sha,
        definition=to_json(request.definition), inputs=to_json(request.inputs),
        secret_fields=to_json(request.secret_fields), state=request.state,
        correlation_id=request.correlation_id, tasks_total=request.tasks_total,
        now=request.created_at, tasks=to_json([_task(t) for t in request.tasks]),
        **lines.params(), **audit,
    )  # fmt: skip


def _task(task: FulfillmentTask) -> dict[str, Any]:
    return {
        "id": str(task.id),
        "position": task.position,
        "component_id": task.component_id,
        "item_id": task.item_id,
        "action_id": task.action_id,
        "action_type": task.action_type,
        "config": task.config,
        "declared_outputs": task.declared_outputs,
        "inputs": task.inputs,
        "state": task.state,
        "queued_at": task.queued_at.isoformat() if task.queued_at else None,
    }
