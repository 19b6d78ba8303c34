"""lock request function: the worker's hot path locks a request and reads its tasks in one
round trip (PostgreSQL only)

The read must see everything committed before the lock was granted, so it has to be a
statement that starts after the lock is held: two statements. Inside a VOLATILE PL/pgSQL
function each statement takes a snapshot of its own, so the two run on the server, one
after the other, for one call from the client. See loom.workers.fast_path.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 22:25:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: One row per task of the request (none if it has no tasks or does not exist), each with
#: its request's columns. With `p_full` false (a finish), only what a finish reads: no
#: JSON but the task's own state. With it (a claim): what the run of task `p_task` needs.
FUNCTION = """
CREATE FUNCTION loom_lock_request(p_request uuid, p_task uuid, p_full boolean)
RETURNS TABLE (
    request_state text, org_id uuid, team_id uuid, secret_fields jsonb,
    correlation_id text, created_at timestamptz, definition jsonb, request_inputs jsonb,
    email text, name text, teams text[],
    id uuid, "position" integer, state text, component_id text, action_id text,
    action_type text, attempts integer, config jsonb, inputs jsonb, outputs jsonb,
    external_refs jsonb
)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM 1 FROM requests WHERE requests.id = p_request FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT r.state::text, r.org_id, r.team_id, r.secret_fields, r.correlation_id::text,
           r.created_at,
           CASE WHEN p_full THEN r.definition END,
           CASE WHEN p_full THEN r.inputs END,
           u.email::text, u.name::text,
           CASE WHEN p_full THEN ARRAY(
               SELECT tm.slug::text FROM memberships m JOIN teams tm ON tm.id = m.team_id
               WHERE m.user_id = r.requester_id ORDER BY tm.slug) END,
           t.id, t.position, t.state::text, t.component_id::text, t.action_id::text,
           t.action_type::text, t.attempts,
           CASE WHEN p_full AND t.id = p_task THEN t.config END,
           CASE WHEN p_full AND t.id = p_task THEN t.inputs END,
           CASE WHEN p_full AND t.state = 'completed' THEN t.outputs END,
           CASE WHEN p_full AND t.state = 'completed' THEN t.external_refs END
    FROM requests r
    JOIN fulfillment_tasks t ON t.request_id = r.id
    LEFT JOIN users u ON u.id = r.requester_id
    WHERE r.id = p_request
    ORDER BY t.position;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION loom_lock_request(uuid, uuid, boolean)")
