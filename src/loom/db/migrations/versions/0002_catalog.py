"""catalog

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 13:22:38.771589
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loom.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "catalog_entry_versions",
        sa.Column("entry_id", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=True),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("source_file", sa.String(length=500), nullable=False),
        sa.Column("created_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_catalog_entry_versions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_entry_versions")),
        sa.UniqueConstraint(
            "org_id", "entry_id", "digest", name=op.f("uq_catalog_entry_versions_org_id")
        ),
    )
    with op.batch_alter_table("catalog_entry_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_entry_versions_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_catalog_entry_versions_entry_id"), ["entry_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_catalog_entry_versions_org_id"), ["org_id"], unique=False
        )

    op.create_table(
        "catalog_syncs",
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("started_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", loom.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("bundles", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column(
            "problems",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_catalog_syncs_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_syncs")),
    )
    with op.batch_alter_table("catalog_syncs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_syncs_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_catalog_syncs_started_at"), ["started_at"], unique=False
        )

    op.create_table(
        "catalog_entries",
        sa.Column("entry_id", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("owner_team", sa.String(length=63), nullable=True),
        sa.Column("owner_team_id", sa.Uuid(), nullable=True),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=True),
        sa.Column("source_file", sa.String(length=500), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("updated_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("synced_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_catalog_entries_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_team_id"],
            ["teams.id"],
            name=op.f("fk_catalog_entries_owner_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_entries")),
        sa.UniqueConstraint("org_id", "entry_id", name=op.f("uq_catalog_entries_org_id")),
    )
    with op.batch_alter_table("catalog_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_entries_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_entries_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_entries_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_catalog_entries_owner_team"), ["owner_team"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("catalog_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_entries_owner_team"))
        batch_op.drop_index(batch_op.f("ix_catalog_entries_org_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_entries_entry_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_entries_category"))

    op.drop_table("catalog_entries")
    with op.batch_alter_table("catalog_syncs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_syncs_started_at"))
        batch_op.drop_index(batch_op.f("ix_catalog_syncs_org_id"))

    op.drop_table("catalog_syncs")
    with op.batch_alter_table("catalog_entry_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_entry_versions_org_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_entry_versions_entry_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_entry_versions_created_at"))

    op.drop_table("catalog_entry_versions")
