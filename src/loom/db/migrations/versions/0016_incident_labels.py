"""incident_labels: an incident's grouping label keys as rows, not a list on the incident

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_KEY_MAX = 400


def upgrade() -> None:
    labels = op.create_table(
        "incident_labels",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=_KEY_MAX), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_labels_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "key", name=op.f("pk_incident_labels")),
    )
    op.create_index("ix_incident_labels_key", "incident_labels", ["key", "incident_id"])
    incidents = sa.table("incidents", sa.column("id", sa.Uuid()), sa.column("label_keys", _JSON))
    found = op.get_bind().execute(sa.select(incidents.c.id, incidents.c.label_keys))
    rows = [
        {"incident_id": incident_id, "key": key}
        for incident_id, keys in found
        for key in sorted(set(keys or []))
        if len(key) <= _KEY_MAX
    ]
    if rows:
        op.bulk_insert(labels, rows)
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("label_keys")


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("label_keys", _JSON, nullable=False, server_default="[]"))
    op.drop_index("ix_incident_labels_key", table_name="incident_labels")
    op.drop_table("incident_labels")
