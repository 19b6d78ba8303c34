"""Background syncs: the interval job syncs only when one is due; start-up syncs once."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from loom.catalog.jobs import pending_syncs, start_initial_sync, sync_when_due
from loom.catalog.models import CatalogSync
from loom.platform.runtime import Runtime


async def _count(runtime: Runtime) -> int:
    async with runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(CatalogSync)) or 0)


async def test_interval_job_syncs_only_when_due(runtime: Runtime) -> None:
    await sync_when_due(runtime)
    assert await _count(runtime) == 0  # no interval configured
    runtime.settings.catalog.sync_interval_seconds = 3600
    await sync_when_due(runtime)
    assert await _count(runtime) == 1  # never synced: due
    await sync_when_due(runtime)
    assert await _count(runtime) == 1  # synced a moment ago: not due


async def test_initial_sync_runs_in_background_once(runtime: Runtime) -> None:
    task = start_initial_sync(runtime)
    assert task is not None
    await asyncio.gather(*pending_syncs(runtime))
    assert await _count(runtime) == 1
    runtime.settings.catalog.sync_on_start = False
    assert start_initial_sync(runtime) is None
