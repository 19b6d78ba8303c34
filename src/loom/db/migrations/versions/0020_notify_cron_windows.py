"""notify: cron maintenance windows (open from each time a cron expression fires)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-27 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notify_maintenance_windows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cron", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notify_maintenance_windows", schema=None) as batch_op:
        batch_op.drop_column("cron")
