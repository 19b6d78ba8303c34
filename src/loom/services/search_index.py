"""The search index: one row per thing people search for (a service, a catalog item or
bundle, a docs link of either), kept fresh in the transaction that changes its source.

This table holds the text on both stores; the full-text index over it is the store's
own, made by migration 0014 and left out of the ORM: on PostgreSQL a generated, weighted
`tsvector` column with a GIN index, on SQLite an FTS5 table fed by triggers. Writers
only ever touch this table, so neither the registry nor the catalog knows about either.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Index, Integer, String, Text, delete, exists, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from loom.catalog import extensions as catalog_extensions
from loom.catalog.models import CatalogEntry
from loom.db.base import Base, OrgScoped
from loom.services.models import Service

KINDS = ("service", "catalog_item", "link")
_CATALOG = "catalog:"
_MAX_TITLE, _MAX_URL = 300, 1000


class SearchDocument(OrgScoped, Base):
    """Searchable text of one thing. `source` names what it came from ("service:<uuid>",
    "catalog:<entry id>"): a source's documents are replaced together."""

    __tablename__ = "search_documents"
    __table_args__ = (Index("ix_search_documents_org_source", "org_id", "source"),)

    #: An integer key on purpose: SQLite's FTS5 table points at rows by this rowid (an
    #: INTEGER PRIMARY KEY, which VACUUM never renumbers).
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    #: The service slug or catalog entry id (for a link: its owner's).
    ref: Mapped[str] = mapped_column(String(250))
    title: Mapped[str] = mapped_column(String(_MAX_TITLE))
    tags: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(_MAX_URL))


def _service_source(service_id: uuid.UUID) -> str:
    return f"service:{service_id}"


def _links(links: Iterable[Any]) -> Iterator[tuple[str, str]]:
    """(title, url) of each link that fits the columns (catalog documents do not bound
    them, and an oversized link must not fail the sync that carries it)."""
    for link in links:
        url = str(link.get("url") or "") if isinstance(link, dict) else ""
        if url and len(url) <= _MAX_URL:
            yield str(link.get("title") or url)[:_MAX_TITLE], url


def _service_documents(service: Service) -> list[SearchDocument]:
    source, slug = _service_source(service.id), service.slug
    facts = [service.description, service.system, service.domain, service.lifecycle]
    documents = [
        SearchDocument(
            org_id=service.org_id, source=source, kind="service", ref=slug,
            title=service.name, tags=" ".join([slug, *service.tags]),
            body="\n".join(f for f in facts if f), url=f"/ui/services/{slug}",
        )
    ]  # fmt: skip
    for title, url in _links(service.links or []):
        documents.append(
            SearchDocument(
                org_id=service.org_id, source=source, kind="link", ref=slug,
                title=title, tags=slug, body=f"{url}\n{service.name}", url=url,
            )
        )  # fmt: skip
    return documents


def _catalog_documents(entry: CatalogEntry) -> list[SearchDocument]:
    source, entry_id = _CATALOG + entry.entry_id, entry.entry_id
    facts = [entry.description, entry.category, entry.owner_team or ""]
    documents = [
        SearchDocument(
            org_id=entry.org_id, source=source, kind="catalog_item", ref=entry_id,
            title=entry.name, tags=" ".join([entry_id, *entry.tags]),
            body="\n".join(f for f in facts if f), url=f"/ui/catalog/{entry_id}",
        )
    ]  # fmt: skip
    links = (entry.definition or {}).get("metadata", {}).get("links", [])
    for title, url in _links(links):
        documents.append(
            SearchDocument(
                org_id=entry.org_id, source=source, kind="link", ref=entry_id,
                title=title, tags=entry_id, body=f"{url}\n{entry.name}", url=url,
            )
        )  # fmt: skip
    return documents


async def index_service(session: AsyncSession, service: Service) -> None:
    """(Re)index a service just created or changed (after its flush)."""
    await unindex_service(session, service)
    session.add_all(_service_documents(service))
    await session.flush()


async def unindex_service(session: AsyncSession, service: Service) -> None:
    await session.execute(
        delete(SearchDocument).where(
            SearchDocument.org_id == service.org_id,
            SearchDocument.source == _service_source(service.id),
        )
    )


async def reindex_catalog(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Index the organisation's stored catalog afresh (a catalog holds tens to hundreds
    of entries: replacing them all is simpler than following each change, and cheap)."""
    await session.execute(
        delete(SearchDocument).where(
            SearchDocument.org_id == org_id, SearchDocument.source.startswith(_CATALOG)
        )
    )
    entries = await session.scalars(select(CatalogEntry).where(CatalogEntry.org_id == org_id))
    session.add_all([d for entry in entries for d in _catalog_documents(entry)])
    await session.flush()


async def rebuild(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Reindex everything of one organisation (an admin path, tests, first search)."""
    await session.execute(delete(SearchDocument).where(SearchDocument.org_id == org_id))
    services = await session.scalars(select(Service).where(Service.org_id == org_id))
    session.add_all([d for service in services for d in _service_documents(service)])
    await session.flush()
    await reindex_catalog(session, org_id)


async def ensure_indexed(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Build an organisation's index if it has none yet but has something to index (data
    from before the index existed): one cheap query on every later search."""
    if await _has_documents(session, org_id):
        return
    has_sources = exists().where(Service.org_id == org_id) | exists().where(
        CatalogEntry.org_id == org_id
    )
    if not await session.scalar(select(has_sources)):
        return
    if session.get_bind().dialect.name == "postgresql":
        # Two first searches at once must not both fill it (SQLite runs one writer).
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": org_id.int >> 65})
        if await _has_documents(session, org_id):
            return
    await rebuild(session, org_id)


async def _has_documents(session: AsyncSession, org_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(exists().where(SearchDocument.org_id == org_id))))


# The catalog lies below the registry and must not import it: it calls what registers.
if reindex_catalog not in catalog_extensions.after_apply:
    catalog_extensions.after_apply.append(reindex_catalog)
