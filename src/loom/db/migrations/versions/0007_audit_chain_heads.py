"""audit chain heads: each organisation's last audit entry, the row appenders lock

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 22:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_heads",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_audit_chain_heads_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_audit_chain_heads")),
    )
    # Chains written before this revision end at their newest entry.
    op.execute(
        """
        INSERT INTO audit_chain_heads (org_id, seq, prev_hash, hash)
        SELECT e.org_id, e.seq, e.prev_hash, e.hash FROM audit_entries e
        WHERE e.seq = (SELECT max(l.seq) FROM audit_entries l WHERE l.org_id = e.org_id)
        """
    )


def downgrade() -> None:
    op.drop_table("audit_chain_heads")
