"""search: the documents of the full-text search and each store's own index over them

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 00:45:00.000000

PostgreSQL: a generated `tsvector` column (title A, tags B, body C) with a GIN index.
SQLite: an FTS5 table over the documents (external content, porter stemming), kept in
step by triggers. Neither is in the ORM's metadata (see loom.db.models.OUTSIDE_METADATA).
The index fills itself at an organisation's first search (search_index.ensure_indexed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_VECTOR = """
ALTER TABLE search_documents ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, title), 'A')
    || setweight(to_tsvector('english'::regconfig, tags), 'B')
    || setweight(to_tsvector('english'::regconfig, body), 'C')
) STORED
"""

_FTS = [
    """CREATE VIRTUAL TABLE search_fts USING fts5(
        title, tags, body,
        content='search_documents', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN
        INSERT INTO search_fts(rowid, title, tags, body)
        VALUES (new.id, new.title, new.tags, new.body);
    END""",
    """CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN
        INSERT INTO search_fts(search_fts, rowid, title, tags, body)
        VALUES ('delete', old.id, old.title, old.tags, old.body);
    END""",
    """CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN
        INSERT INTO search_fts(search_fts, rowid, title, tags, body)
        VALUES ('delete', old.id, old.title, old.tags, old.body);
        INSERT INTO search_fts(rowid, title, tags, body)
        VALUES (new.id, new.title, new.tags, new.body);
    END""",
]


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ref", sa.String(length=250), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_search_documents_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
    )
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.create_index("ix_search_documents_org_source", ["org_id", "source"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_documents_org_id"), ["org_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_VECTOR)
        op.execute(
            "CREATE INDEX ix_search_documents_search_vector ON search_documents "
            "USING gin (search_vector)"
        )
    else:
        for statement in _FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for trigger in ("search_documents_au", "search_documents_ad", "search_documents_ai"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE search_fts")
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_documents_org_id"))
        batch_op.drop_index("ix_search_documents_org_source")
    op.drop_table("search_documents")
