"""Reading the served catalog: search and filter, one entry, its form, its versions, the
state of the last syncs; and validating documents people post. No HTTP here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.catalog.cache import ServedEntry
from loom.catalog.codeowners import LOCATIONS, CodeOwners
from loom.catalog.documents import CatalogItem
from loom.catalog.loader import LoadedCatalog, load_files
from loom.catalog.models import CatalogEntryVersion, CatalogSync
from loom.catalog.sync import catalog_cache
from loom.errors import Forbidden, InvalidInput, NotFound
from loom.platform.runtime import Runtime

MAX_POSTED_FILES = 5000
MAX_POSTED_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class CatalogFilter:
    kind: str | None = None
    category: str | None = None
    owner: str | None = None
    tag: str | None = None
    q: str | None = None

    def matches(self, entry: ServedEntry) -> bool:
        meta = entry.document.metadata
        if self.kind and entry.kind != self.kind:
            return False
        if self.category and meta.category.lower() != self.category.lower():
            return False
        if self.owner and (entry.owner_team or "") != self.owner.lower():
            return False
        if self.tag and self.tag.lower() not in {t.lower() for t in meta.tags}:
            return False
        if self.q:
            words = self.q.lower().split()
            text = " ".join(
                [meta.id, meta.name, meta.description, meta.category, *meta.tags]
            ).lower()
            return all(w in text for w in words)
        return True


async def entries(
    session: AsyncSession, runtime: Runtime, principal: Principal
) -> dict[str, ServedEntry]:
    """The caller's organisation's served catalog (every member sees all of it)."""
    return await catalog_cache(runtime).entries(session, principal.org_id)


async def search(
    session: AsyncSession, runtime: Runtime, principal: Principal, flt: CatalogFilter
) -> list[ServedEntry]:
    served = await entries(session, runtime, principal)
    found = [e for e in served.values() if flt.matches(e)]
    return sorted(found, key=lambda e: (e.document.metadata.name.lower(), e.entry_id))


async def get(
    session: AsyncSession, runtime: Runtime, principal: Principal, entry_id: str
) -> ServedEntry:
    entry = (await entries(session, runtime, principal)).get(entry_id)
    if entry is None:
        raise NotFound(f"no catalog item or bundle '{entry_id}'")
    return entry


async def get_item(
    session: AsyncSession, runtime: Runtime, principal: Principal, entry_id: str
) -> CatalogItem:
    entry = await get(session, runtime, principal, entry_id)
    if not isinstance(entry.document, CatalogItem):
        raise InvalidInput.on("item", f"'{entry_id}' is a bundle, not an item")
    return entry.document


async def versions(
    session: AsyncSession, runtime: Runtime, principal: Principal, entry_id: str
) -> list[CatalogEntryVersion]:
    await get(session, runtime, principal, entry_id)
    rows = await session.scalars(
        select(CatalogEntryVersion)
        .where(
            CatalogEntryVersion.org_id == principal.org_id,
            CatalogEntryVersion.entry_id == entry_id,
        )
        .order_by(CatalogEntryVersion.created_at.desc())
    )
    return list(rows.all())


async def recent_syncs(
    session: AsyncSession, principal: Principal, limit: int = 10
) -> list[CatalogSync]:
    rows = await session.scalars(
        select(CatalogSync)
        .where(CatalogSync.org_id == principal.org_id)
        .order_by(CatalogSync.started_at.desc())
        .limit(limit)
    )
    return list(rows.all())


def require_refresh_right(principal: Principal) -> None:
    """Anyone who operates something (operator in a team, or an org admin) may refresh."""
    principal.require_scope("write")
    if principal.org_role >= Role.ADMIN:
        return
    if not any(role >= Role.OPERATOR for role in principal.team_roles.values()):
        raise Forbidden("refreshing the catalog needs the operator role in a team")


def validate_posted(
    files: dict[str, str], context: dict[str, ServedEntry] | None = None
) -> LoadedCatalog:
    """Validate a posted set of files (a catalog directory's contents, paths relative to
    its root). Items of the served catalog are known for references but not reported."""
    if len(files) > MAX_POSTED_FILES:
        raise InvalidInput.on("files", f"at most {MAX_POSTED_FILES} files")
    if sum(len(t) for t in files.values()) > MAX_POSTED_BYTES:
        raise InvalidInput.on("files", "at most 20 MiB in all")
    owners_text = next((files[p] for p in LOCATIONS if p in files), "")
    documents = sorted(
        (path, text)
        for path, text in files.items()
        if path.endswith((".yaml", ".yml")) and path.split("/", 1)[0] in ("catalog", "bundles")
    )
    if not documents:
        raise InvalidInput.on("files", "no documents: put *.yaml files under catalog/ or bundles/")
    known: dict[str, Any] = {}
    if context:
        known = {k: e.document for k, e in context.items() if isinstance(e.document, CatalogItem)}
    return load_files(documents, CodeOwners(owners_text), context_items=known)
