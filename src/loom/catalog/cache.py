"""The served catalog in memory: parsed documents per organisation, reloaded from the
database whenever a newer sync has finished (on this replica or another)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.catalog.documents import CatalogBundle, CatalogItem, Document
from loom.catalog.models import CatalogEntry, CatalogSync

_DOCUMENT: TypeAdapter[CatalogItem | CatalogBundle] = TypeAdapter(CatalogItem | CatalogBundle)


@dataclass(frozen=True)
class ServedEntry:
    entry_id: str
    kind: str
    owner_team: str | None
    owner_team_id: uuid.UUID | None
    commit_sha: str | None
    source_file: str
    digest: str
    stale: bool
    updated_at: datetime
    synced_at: datetime
    document: Document

    @classmethod
    def of(cls, row: CatalogEntry) -> ServedEntry:
        return cls(
            entry_id=row.entry_id,
            kind=row.kind,
            owner_team=row.owner_team,
            owner_team_id=row.owner_team_id,
            commit_sha=row.commit_sha,
            source_file=row.source_file,
            digest=row.digest,
            stale=row.stale,
            updated_at=row.updated_at,
            synced_at=row.synced_at,
            document=_DOCUMENT.validate_python(row.definition),
        )


class CatalogCache:
    def __init__(self) -> None:
        self._by_org: dict[uuid.UUID, tuple[uuid.UUID | None, dict[str, ServedEntry]]] = {}

    async def entries(self, session: AsyncSession, org_id: uuid.UUID) -> dict[str, ServedEntry]:
        generation = await session.scalar(
            select(CatalogSync.id)
            .where(CatalogSync.org_id == org_id, CatalogSync.finished_at.is_not(None))
            .order_by(CatalogSync.finished_at.desc())
            .limit(1)
        )
        cached = self._by_org.get(org_id)
        if cached is not None and cached[0] == generation:
            return cached[1]
        rows = await session.scalars(select(CatalogEntry).where(CatalogEntry.org_id == org_id))
        entries = {row.entry_id: ServedEntry.of(row) for row in rows}
        self._by_org[org_id] = (generation, entries)
        return entries

    def invalidate(self, org_id: uuid.UUID) -> None:
        self._by_org.pop(org_id, None)
