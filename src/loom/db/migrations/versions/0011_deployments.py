"""deployments: environments and the versions of services deployed to them

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 00:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loom.db.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("production", sa.Boolean(), nullable=False),
        sa.Column("drift_threshold_hours", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_environments_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environments")),
        sa.UniqueConstraint("org_id", "rank", name=op.f("uq_environments_org_rank")),
        sa.UniqueConstraint("org_id", "slug", name=op.f("uq_environments_org_slug")),
    )
    with op.batch_alter_table("environments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_environments_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_environments_org_id"), ["org_id"], unique=False)

    op.create_table(
        "service_deployments",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=True),
        sa.Column("deployed_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deployed_by", sa.String(length=320), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_service_deployments_environment_id_environments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_service_deployments_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_deployments_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_deployments")),
    )
    with op.batch_alter_table("service_deployments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_deployments_environment_id"), ["environment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_deployments_latest"),
            ["service_id", "environment_id", "deployed_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_service_deployments_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("service_deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_deployments_org_id"))
        batch_op.drop_index(batch_op.f("ix_service_deployments_latest"))
        batch_op.drop_index(batch_op.f("ix_service_deployments_environment_id"))
    op.drop_table("service_deployments")
    with op.batch_alter_table("environments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_environments_org_id"))
        batch_op.drop_index(batch_op.f("ix_environments_created_at"))
    op.drop_table("environments")
