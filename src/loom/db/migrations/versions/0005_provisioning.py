"""provisioning

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 14:10:46.010570
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loom.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "requests",
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("entry_id", sa.String(length=63), nullable=False),
        sa.Column("entry_name", sa.String(length=200), nullable=False),
        sa.Column("entry_version", sa.String(length=50), nullable=False),
        sa.Column("entry_digest", sa.String(length=64), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=True),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "secret_fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("correlation_id", sa.String(length=128), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("tasks_total", sa.Integer(), nullable=False),
        sa.Column("tasks_completed", sa.Integer(), nullable=False),
        sa.Column("finished_at", loom.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_requests_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["users.id"], name=op.f("fk_requests_requester_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_requests_team_id_teams"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_requests_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_requests_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_requests_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_requests_requester_id"), ["requester_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_requests_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_requests_team_id"), ["team_id"], unique=False)

    op.create_table(
        "fulfillment_tasks",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("component_id", sa.String(length=63), nullable=False),
        sa.Column("item_id", sa.String(length=63), nullable=False),
        sa.Column("action_id", sa.String(length=63), nullable=False),
        sa.Column("action_type", sa.String(length=40), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "declared_outputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "outputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "external_refs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("queued_at", loom.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", loom.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", loom.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_fulfillment_tasks_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfillment_tasks")),
        sa.UniqueConstraint("request_id", "position", name=op.f("uq_fulfillment_tasks_request_id")),
    )
    with op.batch_alter_table("fulfillment_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fulfillment_tasks_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_fulfillment_tasks_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_fulfillment_tasks_state"), ["state"], unique=False)

    op.create_table(
        "task_logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_task_logs_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_logs")),
    )
    with op.batch_alter_table("task_logs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_logs_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_logs_task_id"), ["task_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("task_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_logs_task_id"))
        batch_op.drop_index(batch_op.f("ix_task_logs_request_id"))

    op.drop_table("task_logs")
    with op.batch_alter_table("fulfillment_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fulfillment_tasks_state"))
        batch_op.drop_index(batch_op.f("ix_fulfillment_tasks_request_id"))
        batch_op.drop_index(batch_op.f("ix_fulfillment_tasks_org_id"))

    op.drop_table("fulfillment_tasks")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_requests_team_id"))
        batch_op.drop_index(batch_op.f("ix_requests_state"))
        batch_op.drop_index(batch_op.f("ix_requests_requester_id"))
        batch_op.drop_index(batch_op.f("ix_requests_org_id"))
        batch_op.drop_index(batch_op.f("ix_requests_entry_id"))
        batch_op.drop_index(batch_op.f("ix_requests_created_at"))

    op.drop_table("requests")
