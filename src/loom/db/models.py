"""Imports every domain's tables so that `metadata` is complete (Alembic autogenerate,
tests). Add each new domain's models module here."""

from __future__ import annotations

from loom.api import idempotency  # noqa: F401
from loom.audit import models as audit_models  # noqa: F401
from loom.auth import models as auth_models  # noqa: F401
from loom.catalog import models as catalog_models  # noqa: F401
from loom.db.base import Base
from loom.incidents import models as incidents_models  # noqa: F401
from loom.notify import models as notify_models  # noqa: F401
from loom.platform import leases  # noqa: F401
from loom.provisioning import models as provisioning_models  # noqa: F401
from loom.queue import models as queue_models  # noqa: F401
from loom.secrets import models as secrets_models  # noqa: F401
from loom.services import check_models as service_check_models  # noqa: F401
from loom.services import models as services_models  # noqa: F401
from loom.services import scorecard_models as service_scorecard_models  # noqa: F401
from loom.services import search_index  # noqa: F401

metadata = Base.metadata

#: Schema objects the migrations make per store, outside `metadata` on purpose: the
#: full-text search index (SQLite's FTS5 table and its shadow tables, PostgreSQL's
#: generated tsvector column and its GIN index). Schema comparisons leave them alone.
OUTSIDE_METADATA = ("search_fts", "search_vector", "ix_search_documents_search_vector")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name` filter: everything but OUTSIDE_METADATA."""
    return name is None or not name.startswith(OUTSIDE_METADATA)
