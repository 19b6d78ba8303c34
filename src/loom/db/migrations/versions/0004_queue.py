"""queue

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 14:07:58.028925
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loom.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_dead_letters",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column("group_id", sa.String(length=128), nullable=False),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("dedup_id", sa.String(length=128), nullable=True),
        sa.Column("receive_count", sa.Integer(), nullable=False),
        sa.Column("sent_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dead_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_queue_dead_letters")),
        sa.UniqueConstraint("id", name=op.f("uq_queue_dead_letters_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("queue_dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queue_dead_letters_queue"), ["queue"], unique=False)

    op.create_table(
        "queue_dedup",
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column("dedup_id", sa.String(length=128), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("sent_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("queue", "dedup_id", name=op.f("pk_queue_dedup")),
    )
    with op.batch_alter_table("queue_dedup", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queue_dedup_sent_at"), ["sent_at"], unique=False)

    op.create_table(
        "queue_groups",
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column("group_id", sa.String(length=128), nullable=False),
        sa.Column("live", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("queue", "group_id", name=op.f("pk_queue_groups")),
    )
    op.create_table(
        "queue_messages",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column("group_id", sa.String(length=128), nullable=False),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("dedup_id", sa.String(length=128), nullable=True),
        sa.Column("is_head", sa.Boolean(), nullable=False),
        sa.Column("visible_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("receive_count", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.String(length=64), nullable=True),
        sa.Column("sent_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_queue_messages")),
        sa.UniqueConstraint("id", name=op.f("uq_queue_messages_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("queue_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_queue_messages_claim",
            ["queue", "visible_at", "seq"],
            unique=False,
            postgresql_where=sa.text("is_head"),
            sqlite_where=sa.text("is_head = 1"),
        )
        batch_op.create_index("ix_queue_messages_group", ["queue", "group_id", "seq"], unique=False)

    op.create_table(
        "queue_processed",
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column("minute", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("queue", "minute", "shard", name=op.f("pk_queue_processed")),
    )


def downgrade() -> None:
    op.drop_table("queue_processed")
    with op.batch_alter_table("queue_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_messages_group")
        batch_op.drop_index(
            "ix_queue_messages_claim",
            postgresql_where=sa.text("is_head"),
            sqlite_where=sa.text("is_head = 1"),
        )

    op.drop_table("queue_messages")
    op.drop_table("queue_groups")
    with op.batch_alter_table("queue_dedup", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_dedup_sent_at"))

    op.drop_table("queue_dedup")
    with op.batch_alter_table("queue_dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_dead_letters_queue"))

    op.drop_table("queue_dead_letters")
