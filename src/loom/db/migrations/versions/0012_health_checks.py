"""services: endpoint health checks, their results, and service events

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 00:38:59.715920
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loom.db.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "service_checks",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("expected_status", _json(), nullable=False),
        sa.Column("body_contains", sa.String(length=1000), nullable=True),
        sa.Column("json_path", sa.String(length=500), nullable=True),
        sa.Column("json_expected", _json(), nullable=True),
        sa.Column("timeout_seconds", sa.Double(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("latency_threshold_ms", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("headers", _json(), nullable=False),
        sa.Column("environment", sa.String(length=63), nullable=True),
        sa.Column("next_run_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_since", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_result", _json(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_service_checks_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_checks_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_checks")),
        sa.UniqueConstraint("service_id", "name", name=op.f("uq_service_checks_service_id")),
    )
    with op.batch_alter_table("service_checks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_checks_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index("ix_service_checks_due", ["enabled", "next_run_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_checks_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_service_checks_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "service_events",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("created_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", loom.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_service_events_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_events_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_events")),
    )
    with op.batch_alter_table("service_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_events_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_service_events_service_id"), ["service_id"], unique=False
        )
        batch_op.create_index(
            "ix_service_events_unconsumed", ["consumed_at", "created_at"], unique=False
        )

    op.create_table(
        "service_check_results",
        sa.Column("check_id", sa.Uuid(), nullable=False),
        sa.Column("scheduled_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["service_checks.id"],
            name=op.f("fk_service_check_results_check_id_service_checks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_service_check_results_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_check_results")),
    )
    with op.batch_alter_table("service_check_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_service_check_results_check_started", ["check_id", "started_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_check_results_org_id"), ["org_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_check_results_started_at"), ["started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("service_check_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_check_results_started_at"))
        batch_op.drop_index(batch_op.f("ix_service_check_results_org_id"))
        batch_op.drop_index("ix_service_check_results_check_started")

    op.drop_table("service_check_results")
    with op.batch_alter_table("service_events", schema=None) as batch_op:
        batch_op.drop_index("ix_service_events_unconsumed")
        batch_op.drop_index(batch_op.f("ix_service_events_service_id"))
        batch_op.drop_index(batch_op.f("ix_service_events_org_id"))

    op.drop_table("service_events")
    with op.batch_alter_table("service_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_checks_service_id"))
        batch_op.drop_index(batch_op.f("ix_service_checks_org_id"))
        batch_op.drop_index("ix_service_checks_due")
        batch_op.drop_index(batch_op.f("ix_service_checks_created_at"))

    op.drop_table("service_checks")
