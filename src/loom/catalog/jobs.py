"""Background catalog syncs: once at start, and every `catalog.sync_interval_seconds`
(checked on a short tick, once across replicas)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select

from loom.catalog.models import CatalogSync
from loom.catalog.sync import catalog_org, sync
from loom.db.types import utcnow
from loom.platform.runtime import Runtime
from loom.platform.scheduler import periodic

log = structlog.get_logger("loom.catalog")
TICK = timedelta(seconds=30)


@periodic("catalog.sync", every=TICK)
async def sync_when_due(runtime: Runtime) -> None:
    interval = runtime.settings.catalog.sync_interval_seconds
    if not interval or not runtime.settings.catalog.source:
        return
    async with runtime.sessions() as session, session.begin():
        org_id = await catalog_org(session, runtime)
        last = await session.scalar(
            select(CatalogSync.started_at)
            .where(CatalogSync.org_id == org_id)
            .order_by(CatalogSync.started_at.desc())
            .limit(1)
        )
    if last is None or utcnow() - last >= timedelta(seconds=interval):
        await sync(runtime, trigger="interval")


def start_sync(runtime: Runtime, trigger: str) -> asyncio.Task[Any]:
    """Sync in the background (at start, or for a webhook that must answer at once)."""

    async def run() -> None:
        try:
            await sync(runtime, trigger=trigger)
        except Exception:
            log.exception("background catalog sync failed", trigger=trigger)

    tasks: set[asyncio.Task[Any]] = runtime.extras.setdefault("catalog_sync_tasks", set())
    task = asyncio.create_task(run())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


def start_initial_sync(runtime: Runtime) -> asyncio.Task[Any] | None:
    """Sync right after start, in the background, so a slow git fetch never delays it."""
    settings = runtime.settings.catalog
    if not settings.source or not settings.sync_on_start:
        return None
    return start_sync(runtime, "start")


def pending_syncs(runtime: Runtime) -> list[asyncio.Task[Any]]:
    """Background catalog syncs still running (awaited by tests, cancelled at shutdown)."""
    return [t for t in runtime.extras.get("catalog_sync_tasks", ()) if not t.done()]
