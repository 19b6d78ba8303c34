"""notify: contact methods (how a person is paged: an e-mail, a Slack DM)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loom.db.types

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_contact_methods",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_notify_contact_methods_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notify_contact_methods_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notify_channels.id"],
            name=op.f("fk_notify_contact_methods_channel_id_notify_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_contact_methods")),
        sa.UniqueConstraint("user_id", "kind", "address", name="uq_notify_contact_methods_address"),
    )
    with op.batch_alter_table("notify_contact_methods", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notify_contact_methods_org_id"), ["org_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notify_contact_methods_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notify_contact_methods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_contact_methods_user_id"))
        batch_op.drop_index(batch_op.f("ix_notify_contact_methods_org_id"))
    op.drop_table("notify_contact_methods")
