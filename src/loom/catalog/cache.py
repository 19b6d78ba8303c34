"""The served catalog in memory: parsed documents per organisation, reloaded from the
database whenever a newer sync has finished: at once after a sync on this replica, within
RECHECK_SECONDS after one on another (asking the database on every request would cost a
query per submission)."""

from __future__ import annotations

import time
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


#: How long a replica serves its cached catalog before asking the database whether another
#: replica finished a newer sync.
RECHECK_SECONDS = 1.0


@dataclass
class _Served:
    generation: uuid.UUID | None
    entries: dict[str, ServedEntry]
    checked_at: float


class CatalogCache:
    def __init__(self) -> None:
        self._by_org: dict[uuid.UUID, _Served] = {}

    async def entries(self, session: AsyncSession, org_id: uuid.UUID) -> dict[str, ServedEntry]:
        cached, now = self._by_org.get(org_id), time.monotonic()
        if cached is not None and now - cached.checked_at < RECHECK_SECONDS:
            return cached.entries
        generation = await session.scalar(
            select(CatalogSync.id)
            .where(CatalogSync.org_id == org_id, CatalogSync.finished_at.is_not(None))
            .order_by(CatalogSync.finished_at.desc())
            .limit(1)
        )
        if cached is not None and cached.generation == generation:
            cached.checked_at = now
            return cached.entries
        rows = await session.scalars(select(CatalogEntry).where(CatalogEntry.org_id == org_id))
        entries = {row.entry_id: ServedEntry.of(row) for row in rows}
        self._by_org[org_id] = _Served(generation, entries, now)
        return entries

    def invalidate(self, org_id: uuid.UUID) -> None:
        self._by_org.pop(org_id, None)
