"""Alembic environment: always runs on a connection handed over by loom.db.migrate."""

from __future__ import annotations

from alembic import context

from loom.db.models import include_name, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `loom db upgrade`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
