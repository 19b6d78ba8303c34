"""Syncing the catalog: read the repository, validate it, and store what changed.

Valid documents whose definition changed get a new version (the last KEEP_VERSIONS are
kept); documents that became invalid keep their last good version, marked stale;
documents gone from the repository are retired. Documents of kinds registered by other
domains (`extensions.py`) go to their kind's `apply` hook, in the same transaction, each
kind in a savepoint: a hook that fails leaves nothing of its kind half-written and is
reported as a problem. Every sync is recorded with its problems, and audited. One sync
runs at a time per organisation, across replicas.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.audit import service as audit
from loom.auth.models import Organization, Team
from loom.auth.principal import Principal
from loom.catalog import extensions
from loom.catalog.cache import CatalogCache
from loom.catalog.documents import CatalogItem
from loom.catalog.extensions import registered
from loom.catalog.loader import Entry, LoadedCatalog, Problem, load_directory
from loom.catalog.models import KEEP_VERSIONS, CatalogEntry, CatalogEntryVersion, CatalogSync
from loom.catalog.source import SourceError, checkout
from loom.catalog.yaml_source import format_path
from loom.db.types import utcnow
from loom.errors import Conflict, InvalidInput
from loom.platform.leases import release, try_acquire
from loom.platform.runtime import Runtime

log = structlog.get_logger("loom.catalog")
_LEASE_TTL = timedelta(minutes=10)
_LEASE_WAIT_SECONDS = 30.0


def catalog_cache(runtime: Runtime) -> CatalogCache:
    cache: CatalogCache = runtime.extras.setdefault("catalog_cache", CatalogCache())
    return cache


async def catalog_org(session: AsyncSession, runtime: Runtime) -> uuid.UUID:
    """The organisation the configured catalog serves (settings, else the first one)."""
    slug = runtime.settings.catalog.org
    stmt = select(Organization.id)
    stmt = stmt.where(Organization.slug == slug) if slug else stmt.order_by(Organization.created_at)
    org_id = await session.scalar(stmt.limit(1))
    if org_id is None:
        raise InvalidInput.on("catalog.org", f"no organisation {slug!r}")
    return org_id


def _definition(entry: Entry) -> dict[str, Any]:
    # Only the keys the author wrote: conditions tell "equals: null" from "not given" by
    # which keys are set, so unset keys must not come back as nulls.
    return entry.document.model_dump(mode="json", by_alias=True, exclude_unset=True)


async def _store_version(
    session: AsyncSession, org_id: uuid.UUID, entry: Entry, commit: str | None
) -> None:
    exists = await session.scalar(
        select(CatalogEntryVersion.id).where(
            CatalogEntryVersion.org_id == org_id,
            CatalogEntryVersion.entry_id == entry.id,
            CatalogEntryVersion.digest == entry.digest,
        )
    )
    if exists is None:
        session.add(
            CatalogEntryVersion(
                org_id=org_id,
                entry_id=entry.id,
                kind=entry.kind,
                version=entry.document.metadata.version,
                digest=entry.digest,
                commit_sha=commit,
                definition=_definition(entry),
                source_file=entry.file,
                created_at=utcnow(),
            )
        )
        await session.flush()
    old = (
        await session.scalars(
            select(CatalogEntryVersion.id)
            .where(CatalogEntryVersion.org_id == org_id, CatalogEntryVersion.entry_id == entry.id)
            .order_by(CatalogEntryVersion.created_at.desc(), CatalogEntryVersion.id)
            .offset(KEEP_VERSIONS)
        )
    ).all()
    if old:
        await session.execute(delete(CatalogEntryVersion).where(CatalogEntryVersion.id.in_(old)))


async def apply(
    session: AsyncSession, org_id: uuid.UUID, loaded: LoadedCatalog, commit: str | None
) -> int:
    """Make the stored catalog match `loaded`; returns how many entries changed."""
    now = utcnow()
    existing = {
        row.entry_id: row
        for row in await session.scalars(select(CatalogEntry).where(CatalogEntry.org_id == org_id))
    }
    rows = await session.execute(select(Team.slug, Team.id).where(Team.org_id == org_id))
    teams: dict[str, uuid.UUID] = {slug: team_id for slug, team_id in rows}
    changed = 0
    for entry in loaded.entries:
        meta = entry.document.metadata
        row = existing.get(entry.id)
        if row is None:
            row = CatalogEntry(org_id=org_id, entry_id=entry.id)
            session.add(row)
        is_new_version = row.digest != entry.digest
        if is_new_version:
            changed += 1
            row.definition = _definition(entry)
            row.digest = entry.digest
            row.updated_at = now
        row.kind = entry.kind
        row.name, row.description, row.category = meta.name, meta.description, meta.category
        row.version, row.tags = meta.version, list(meta.tags)
        row.owner_team = entry.owner
        row.owner_team_id = teams.get(entry.owner) if entry.owner else None
        row.commit_sha, row.source_file = commit, entry.file
        row.stale, row.synced_at = False, now
        if is_new_version:
            await _store_version(session, org_id, entry, commit)
    served = {e.id for e in loaded.entries}
    for entry_id, row in existing.items():
        if entry_id in served:
            continue
        if entry_id in loaded.rejected or row.source_file in loaded.unreadable:
            row.stale = True  # the last good version stays served
        else:
            await session.delete(row)
            changed += 1
    await session.flush()
    for hook in extensions.after_apply:
        await hook(session, org_id)
    return changed


async def apply_kinds(
    session: AsyncSession,
    org_id: uuid.UUID,
    loaded: LoadedCatalog,
    commit: str | None,
    actor: audit.Actor | Principal,
) -> dict[str, int]:
    """Hand each registered kind its documents; returns how many each kind had. The
    hooks' problems join `loaded.problems`."""
    counts: dict[str, int] = {}
    for kind in registered().values():
        batch = loaded.batch(kind, commit)
        counts[kind.kind] = len(batch.entries)
        try:
            async with session.begin_nested():
                found = await kind.apply(session, org_id, batch, actor)
        except Exception as exc:  # a bug or a database error in one kind: the rest still syncs
            # The problem row is shown over the API: the details (SQL...) stay in the log.
            log.exception("catalog kind not applied", kind=kind.kind)
            found = []
            loaded.problems.append(
                Problem(
                    f"{kind.folder}/",
                    1,
                    "",
                    f"{kind.kind} documents not applied ({type(exc).__name__}, see the logs)",
                )
            )
        for p in found:
            loaded.problems.append(
                Problem(p.entry.file, p.entry.source.line_of(p.path), format_path(p.path),
                        p.message, p.entry.id)
            )  # fmt: skip
    loaded.problems.sort(key=lambda p: (p.file, p.line))
    return counts


def _problem_rows(loaded: LoadedCatalog) -> list[dict[str, Any]]:
    return [
        {"file": p.file, "line": p.line, "path": p.path, "message": p.message,
         "document_id": p.document_id, "text": str(p)}
        for p in loaded.problems
    ]  # fmt: skip


async def sync(runtime: Runtime, *, trigger: str, actor: Principal | None = None) -> CatalogSync:
    """Run one sync now and return its record (status ok, partial or failed)."""
    lock: asyncio.Lock = runtime.extras.setdefault("catalog_sync_lock", asyncio.Lock())
    holder = runtime.extras.setdefault("instance_id", uuid.uuid4().hex)
    async with lock:
        async with runtime.sessions() as session, session.begin():
            org_id = await catalog_org(session, runtime)
        lease = f"catalog-sync:{org_id}"
        deadline = asyncio.get_running_loop().time() + _LEASE_WAIT_SECONDS
        while not await try_acquire(runtime.sessions, lease, holder, _LEASE_TTL):
            if asyncio.get_running_loop().time() > deadline:
                raise Conflict("another catalog sync is running; try again shortly")
            await asyncio.sleep(0.5)
        try:
            return await _sync(runtime, org_id, trigger, actor)
        finally:
            await release(runtime.sessions, lease, holder)


async def _sync(
    runtime: Runtime, org_id: uuid.UUID, trigger: str, actor: Principal | None
) -> CatalogSync:
    settings = runtime.settings.catalog
    record = CatalogSync(
        org_id=org_id, trigger=trigger, source=settings.source, started_at=utcnow()
    )
    loaded: LoadedCatalog | None = None
    commit: str | None = None
    kinds: dict[str, int] = {}
    async with runtime.sessions() as session:
        served = await catalog_cache(runtime).entries(session, org_id)
    last_good = {k: e.document for k, e in served.items() if isinstance(e.document, CatalogItem)}
    try:
        repo = await asyncio.to_thread(checkout, settings)
        commit = repo.commit
        loaded = await asyncio.to_thread(load_directory, repo.root, last_good)
    except SourceError as exc:
        record.status, record.error = "failed", str(exc)
    async with runtime.sessions() as session, session.begin():
        if loaded is not None:
            record.changed = await apply(session, org_id, loaded, commit)
            kinds = await apply_kinds(
                session, org_id, loaded, commit, actor or audit.Actor.system(f"catalog-{trigger}")
            )
            record.status = "partial" if loaded.problems else "ok"
            record.items, record.bundles = len(loaded.items), len(loaded.bundles)
            record.problems = _problem_rows(loaded)
        record.commit_sha = commit
        record.finished_at = utcnow()
        session.add(record)
        await session.flush()
        await audit.record(
            session,
            org_id=org_id,
            actor=actor or audit.Actor.system(f"catalog-{trigger}"),
            action="catalog.sync",
            target_type="catalog_sync",
            target_id=record.id,
            after={
                "status": record.status,
                "commit": commit,
                "items": record.items,
                "bundles": record.bundles,
                "changed": record.changed,
                "documents": kinds,
                "problems": len(record.problems),
                "error": record.error,
            },
        )
    catalog_cache(runtime).invalidate(org_id)
    log.info(
        "catalog synced",
        trigger=trigger,
        status=record.status,
        commit=commit,
        items=record.items,
        bundles=record.bundles,
        changed=record.changed,
        problems=len(record.problems),
        error=record.error,
    )
    return record
