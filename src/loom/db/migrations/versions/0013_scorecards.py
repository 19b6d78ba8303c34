"""scorecards: the readiness rules synced from the catalog repository

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 01:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loom.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "scorecard_rules",
        sa.Column("rule_id", sa.String(length=63), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("definition", _json(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("source_file", sa.String(length=500), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=True),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("synced_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_scorecard_rules_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_rules")),
        sa.UniqueConstraint("org_id", "rule_id", name=op.f("uq_scorecard_rules_org_id")),
    )
    with op.batch_alter_table("scorecard_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scorecard_rules_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scorecard_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scorecard_rules_org_id"))
    op.drop_table("scorecard_rules")
