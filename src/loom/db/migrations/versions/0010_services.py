"""services: the service registry and the dependencies between services

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 22:45:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loom.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("lifecycle", sa.String(length=20), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=True),
        sa.Column("domain", sa.String(length=100), nullable=True),
        sa.Column("repository_url", sa.String(length=1000), nullable=True),
        sa.Column("links", _json(), nullable=False),
        sa.Column("api_spec_url", sa.String(length=1000), nullable=True),
        sa.Column("openapi", _json(), nullable=True),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_services_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_services_team_id_teams"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("org_id", "slug", name=op.f("uq_services_org_id")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_services_domain"), ["domain"], unique=False)
        batch_op.create_index(batch_op.f("ix_services_lifecycle"), ["lifecycle"], unique=False)
        batch_op.create_index(batch_op.f("ix_services_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_services_system"), ["system"], unique=False)
        batch_op.create_index(batch_op.f("ix_services_team_id"), ["team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_services_tier"), ["tier"], unique=False)

    op.create_table(
        "service_dependencies",
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("target_service_id", sa.Uuid(), nullable=True),
        sa.Column("target_resource", sa.String(length=250), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("criticality", sa.String(length=10), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "(target_service_id IS NULL) <> (target_resource IS NULL)",
            name=op.f("ck_service_dependencies_one_target"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_service_dependencies_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_dependencies_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_service_id"],
            ["services.id"],
            name=op.f("fk_service_dependencies_target_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_dependencies")),
        sa.UniqueConstraint(
            "service_id",
            "target_resource",
            name=op.f("uq_service_dependencies_service_resource"),
        ),
        sa.UniqueConstraint(
            "service_id",
            "target_service_id",
            name=op.f("uq_service_dependencies_service_target"),
        ),
    )
    with op.batch_alter_table("service_dependencies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_dependencies_org_id"), ["org_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_dependencies_service_org"),
            ["service_id", "org_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_service_dependencies_target_org"),
            ["target_service_id", "org_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("service_dependencies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_dependencies_target_org"))
        batch_op.drop_index(batch_op.f("ix_service_dependencies_service_org"))
        batch_op.drop_index(batch_op.f("ix_service_dependencies_org_id"))
    op.drop_table("service_dependencies")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_tier"))
        batch_op.drop_index(batch_op.f("ix_services_team_id"))
        batch_op.drop_index(batch_op.f("ix_services_system"))
        batch_op.drop_index(batch_op.f("ix_services_org_id"))
        batch_op.drop_index(batch_op.f("ix_services_lifecycle"))
        batch_op.drop_index(batch_op.f("ix_services_domain"))
        batch_op.drop_index(batch_op.f("ix_services_created_at"))
    op.drop_table("services")
