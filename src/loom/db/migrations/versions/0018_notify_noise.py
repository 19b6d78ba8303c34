"""notify noise control: a rule's hourly limit counts per incident pattern

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27 10:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notify_rule_hits", schema=None) as batch_op:
        # Hits of before count for no pattern: they age out within the hour.
        batch_op.add_column(
            sa.Column("pattern", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.drop_index("ix_notify_rule_hits_rule_incident_at")
        batch_op.create_index(
            "ix_notify_rule_hits_rule_pattern_at", ["rule_id", "pattern", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notify_rule_hits", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_rule_hits_rule_pattern_at")
        batch_op.create_index(
            "ix_notify_rule_hits_rule_incident_at", ["rule_id", "incident_id", "at"], unique=False
        )
        batch_op.drop_column("pattern")
