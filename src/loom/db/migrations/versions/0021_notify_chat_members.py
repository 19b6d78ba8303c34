"""notify: Teams chat members (a chat person linked to a Loom user) as a table; an index
on task_waits.created_at (the request dispatcher reads approval waits by it)

Links used to be sealed rows of `secrets` (owner type `chat_member`). They cannot be
copied here (they are sealed with the server's key, which migrations do not have), so
they are dropped: each person says `@Loom link <code>` once more.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27 11:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loom.db.types

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_chat_members",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("remote_user_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", loom.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_notify_chat_members_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["notify_chat_workspaces.id"],
            name=op.f("fk_notify_chat_members_workspace_id_notify_chat_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notify_chat_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_chat_members")),
        sa.UniqueConstraint("workspace_id", "remote_user_id", name="uq_notify_chat_members_remote"),
    )
    with op.batch_alter_table("notify_chat_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_chat_members_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notify_chat_members_user_id"), ["user_id"], unique=False
        )
    with op.batch_alter_table("task_waits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_waits_created_at"), ["created_at"], unique=False)
    op.execute(sa.text("DELETE FROM secrets WHERE owner_type = 'chat_member'"))


def downgrade() -> None:
    with op.batch_alter_table("task_waits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_waits_created_at"))
    with op.batch_alter_table("notify_chat_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_chat_members_user_id"))
        batch_op.drop_index(batch_op.f("ix_notify_chat_members_org_id"))
    op.drop_table("notify_chat_members")
