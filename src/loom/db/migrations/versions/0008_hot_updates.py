"""hot updates: room in the pages of the rows the workers update for every task

Every task changes its task row, its request row and, for an audited transition, its
organisation's audit chain head. PostgreSQL can rewrite such a row in place (a HOT
update: no new index entries) when no indexed column changes and its page has room:
leave that room (fillfactor), and drop the index on task state that no query uses.
SQLite has no such storage parameter; only the index goes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 22:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_FILL = {"fulfillment_tasks": 70, "requests": 70, "audit_chain_heads": 50}


def upgrade() -> None:
    with op.batch_alter_table("fulfillment_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fulfillment_tasks_state"))
    if op.get_bind().dialect.name == "postgresql":
        for table, percent in _FILL.items():
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _FILL:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    with op.batch_alter_table("fulfillment_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fulfillment_tasks_state"), ["state"], unique=False)
