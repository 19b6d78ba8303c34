"""waits: what waiting tasks wait for, approvers and approval decisions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 16:20:56.648348
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loom.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_waits",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("every_seconds", sa.Float(), nullable=False),
        sa.Column("next_check_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", loom.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("timeout_message", sa.Text(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("created_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", loom.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_task_waits_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["fulfillment_tasks.id"],
            name=op.f("fk_task_waits_task_id_fulfillment_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_waits")),
        sa.UniqueConstraint("task_id", name=op.f("uq_task_waits_task_id")),
    )
    with op.batch_alter_table("task_waits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_task_waits_next_check_at"), ["next_check_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_task_waits_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_waits_request_id"), ["request_id"], unique=False)

    op.create_table(
        "approval_decisions",
        sa.Column("wait_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_approval_decisions_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_approval_decisions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["wait_id"],
            ["task_waits.id"],
            name=op.f("fk_approval_decisions_wait_id_task_waits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_decisions")),
        sa.UniqueConstraint("wait_id", "user_id", name=op.f("uq_approval_decisions_wait_id")),
    )
    with op.batch_alter_table("approval_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_approval_decisions_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "wait_approvers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("wait_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("min_role", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_wait_approvers_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["wait_id"],
            ["task_waits.id"],
            name=op.f("fk_wait_approvers_wait_id_task_waits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wait_approvers")),
    )
    with op.batch_alter_table("wait_approvers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wait_approvers_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_wait_approvers_team_id"), ["team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_wait_approvers_wait_id"), ["wait_id"], unique=False)

    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_for", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("waiting_for")

    with op.batch_alter_table("wait_approvers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wait_approvers_wait_id"))
        batch_op.drop_index(batch_op.f("ix_wait_approvers_team_id"))
        batch_op.drop_index(batch_op.f("ix_wait_approvers_email"))

    op.drop_table("wait_approvers")
    with op.batch_alter_table("approval_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_decisions_request_id"))

    op.drop_table("approval_decisions")
    with op.batch_alter_table("task_waits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_waits_request_id"))
        batch_op.drop_index(batch_op.f("ix_task_waits_org_id"))
        batch_op.drop_index(batch_op.f("ix_task_waits_next_check_at"))

    op.drop_table("task_waits")
